"""The MultiBench study end to end on small hand-made datasets, checked against direct
computations of every number in Table 1."""

import pandas as pd
import pytest
import torch
from scipy import stats

from alignlab.analysis.report import write_report
from alignlab.data.multibench import prepare_affective
from alignlab.experiments import ExecutorConfig, RunStore, resolve_spec, run_status, run_study
from alignlab.metrics import align_layers, clamp_layers
from alignlab.models.population_transformer import PopulationTransformer
from alignlab.studies.multibench import MultiBenchStudySpec, paper_value
from alignlab.studies.multibench.data import from_paired

from .conftest import MOSI_SIZES, SPLIT_SIZES, affective_raw, toy_paired

LOCAL = ExecutorConfig(workers=1, quiet=True)


def run_multibench(spec, run_dir, executor=None, data=None):
    return run_study(spec, run_dir, executor, data=data)


def resolve_multibench_spec(preset=None, config=None, overrides=(), fields=None):
    return resolve_spec(MultiBenchStudySpec, preset, config, overrides, fields)


def small_spec(**fields) -> MultiBenchStudySpec:
    base = dict(dataset="toy", depths=[1, 2], seeds=[2, 22], lrs=[3e-3, 1e-3], wds=[0.0],
                epochs=3, n_align=40, n_boot=100, device="cpu")  # fmt: skip
    return MultiBenchStudySpec(**{**base, **fields})


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("multibench") / "run"
    data = toy_paired()
    return run, run_multibench(small_spec(), run, LOCAL, data=data), data


def test_tables_hold_every_model_and_pair(toy_run):
    run, out, _ = toy_run
    assert out.jobs_run == {"train": 4, "align": 2}
    models = out.models
    assert len(models) == 2 * 2 * 2 * 2  # modalities x depths x seeds x lrs
    chosen = models[models["selected"]]
    assert len(chosen) == 2 * 2 * 2 and chosen.groupby("modality")["lr"].nunique().eq(1).all()
    means = models.groupby(["modality", "lr"])["val_score"].mean()
    for m, g in chosen.groupby("modality"):  # the selected lr has the best mean validation
        assert means.loc[m].idxmax() == g["lr"].iloc[0]
    assert len(out.alignments) == 2 * 4
    table = out.table1
    expected = {"dataset", "modality_a", "modality_b", "column", "pearson", "low", "high",
                "spearman", "n", "paper_value"}  # fmt: skip
    assert expected <= set(table.columns) and len(table) == 2
    assert set(zip(table["modality_a"], table["column"], strict=True)) == {("a", "b"), ("b", "a")}
    for name in ("models", "alignments", "table1"):
        assert (run / "tables" / f"{name}.parquet").is_file()
    assert table["paper_value"].isna().all()  # no published value for a toy dataset


def test_table1_matches_a_direct_computation(toy_run):
    """Reference = best validation among modality a's selected models; each b-model's score
    is the max over layer pairs of unbiased CKA of its per-model-clamped features; its
    performance is its test accuracy; the row's r is Pearson of the two."""
    run, out, data = toy_run
    store, models = RunStore(run), out.models
    study = from_paired(data)
    for (a, b), group in out.alignments.groupby(["modality_a", "modality_b"]):
        chosen_a = models[(models["modality"] == a) & models["selected"]]
        best = chosen_a.loc[chosen_a["val_score"].idxmax()]
        assert (group["depth_a"] == best["depth"]).all() and (group["seed_a"] == best["seed"]).all()

        def layers(m, row):
            x, mask, y = study.splits["test"][m]
            rows = models[models["job"] == row["job"]].reset_index(drop=True)
            p = int(rows.index[rows["key"] == row["key"]][0])
            weights = store.job_tensors("train", row["job"])
            pop = PopulationTransformer(1, **weights["architecture"], seeds=[0])
            with torch.no_grad():
                pop.flat.copy_(weights["weights"][p : p + 1])
            net = pop.member(0).eval()
            with torch.no_grad():
                logits, pooled = net(x[:40], mask[:40])
                acc = (net(x, mask)[0].argmax(-1) == y).float().mean().item()
            return clamp_layers(pooled, 0.95, "per_model"), acc

        ref, _ = layers(a, best)
        for r in group.itertuples():
            row = models[(models["modality"] == b) & models["selected"] & (models["depth"] ==
                         r.depth_b) & (models["seed"] == r.seed_b)].iloc[0]  # fmt: skip
            feats, acc = layers(b, row)
            score = align_layers(ref, feats, "unbiased_cka").best
            assert score == pytest.approx(r.score, abs=1e-5)
            assert acc == pytest.approx(r.perf_b, abs=1e-6) == pytest.approx(row["test_score"])
        line = out.table1[(out.table1["modality_a"] == a) & (out.table1["modality_b"] == b)]
        expected = stats.pearsonr(group["score"], group["perf_b"]).statistic
        assert line["pearson"].iloc[0] == pytest.approx(expected, abs=1e-9)
        rho = stats.spearmanr(group["score"], group["perf_b"]).statistic
        assert line["spearman"].iloc[0] == pytest.approx(rho, abs=1e-9)
        assert line["low"].iloc[0] <= line["pearson"].iloc[0] <= line["high"].iloc[0]


def test_rerun_resumes_and_another_spec_is_refused(toy_run):
    run, out, data = toy_run
    again = run_multibench(small_spec(), run, LOCAL, data=data)
    assert again.jobs_run == {"train": 0, "align": 0}
    pd.testing.assert_frame_equal(again.table1, out.table1)
    with pytest.raises(FileExistsError, match="different spec"):
        run_multibench(small_spec(epochs=4), run, LOCAL, data=data)
    status = run_status(run)
    assert status.study == "multibench" and status.finished
    assert status.phases["train"][0] == 4 and status.phases["align"][0] == 2


def test_report_has_table1_and_scatter(toy_run):
    run, _, _ = toy_run
    index = write_report(run)
    page = index.read_text()
    assert "Table 1" in page and 'id="table1"' in page and "paper r" in page
    for name in ("mb_alignment_vs_performance", "mb_performance_by_depth"):
        assert (index.parent / "figures" / f"{name}.png").is_file()
    assert (index.parent / "tables" / "table1.csv").is_file()
    with pytest.raises(ValueError, match="apply to the synthetic study"):
        write_report(run, metric="mutual_knn")


def test_regression_with_three_modalities_uses_mean_pooling_and_paper_values(tmp_path):
    """MOSI-shaped data (three modalities, regression): six ordered pairs, L1-trained
    mean-pooling encoders scored by sign accuracy, the paper's values beside ours."""
    data = prepare_affective("mosi", affective_raw(MOSI_SIZES, SPLIT_SIZES))
    spec = small_spec(dataset="mosi", lrs=[1e-3], epochs=1, n_align=12, n_boot=20)
    out = run_multibench(spec, tmp_path / "run", LOCAL, data=data)
    assert len(out.table1) == 6 and out.models["task"].eq("regression").all()
    tensors = RunStore(tmp_path / "run").job_tensors("train", out.models["job"].iloc[0])
    assert tensors["architecture"]["pooling"] == "mean"
    assert tensors["architecture"]["max_len"] == 50
    for r in out.table1.itertuples():
        assert r.paper_value == paper_value("mosi", r.modality_a, r.modality_b) is not None
    sign = out.models["test_score"] * 12  # sign accuracy on 12 test samples: whole counts
    assert (sign - sign.round()).abs().max() < 1e-4


@pytest.mark.slow
def test_same_numbers_with_a_process_pool(toy_run, tmp_path):
    """Two worker processes (jobs carry the in-memory data) give the numbers of one."""
    _, out, data = toy_run
    pooled = run_multibench(small_spec(), tmp_path / "run", ExecutorConfig(workers=2, quiet=True),
                            data=data)  # fmt: skip
    pd.testing.assert_frame_equal(pooled.table1, out.table1)


def test_presets_resolve():
    quick = resolve_multibench_spec("quick", fields={"dataset": "avdigits"})
    paper = resolve_multibench_spec("paper", fields={"dataset": "mosi"})
    assert quick.epochs == 2 and quick.depths == [1, 2, 3, 4] and quick.n_train == 512
    assert paper.epochs == 50 and paper.depths == list(range(1, 11)) and paper.seeds == [2, 22, 42]
    assert resolve_multibench_spec("paper", fields={"dataset": "avmnist"}).epochs == 100
    assert len(paper.lrs) == 5 and len(paper.wds) == 5 and paper.n_align == 4096
    with pytest.raises(ValueError, match="unknown preset"):
        resolve_multibench_spec("huge")
