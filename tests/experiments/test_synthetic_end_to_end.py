"""The synthetic study end to end on a tiny spec: both executors, reproducibility, resume."""

import pandas as pd
import pytest

from alignlab.experiments import ExecutorConfig, JobsFailed, run_status, run_study
from alignlab.studies.synthetic import SyntheticStudySpec
from alignlab.studies.synthetic import study as synthetic_study

TINY = SyntheticStudySpec(
    uniqueness=[0, 8],
    dphi=[1, 3],
    depths1=[1, 2],
    depths2=[1, 2],
    align_depths1=[1],
    lrs=[0.01],
    wds=[0.0, 0.01],
    epochs1=2,
    epochs2=2,
    seeds=[0, 1],
    n_samples=4096,
    n_align=128,
    metrics=[{"name": "unbiased_cka"}, {"name": "mutual_knn", "k": 10}],
)
MODEL_COLUMNS = {
    "key",
    "study",
    "u",
    "r",
    "dphi",
    "modality",
    "depth",
    "seed",
    "lr",
    "wd",
    "val_score",
    "test_score",
    "best_epoch",
    "epochs",
    "best_is_last",
    "diverged",
    "selected",
}
ALIGN_COLUMNS = {
    "key",
    "u",
    "dphi",
    "metric",
    "modality_a",
    "modality_b",
    "depth_a",
    "seed_a",
    "depth_b",
    "seed_b",
    "score",
    "layer_a",
    "layer_b",
    "perf_a",
    "perf_b",
    "matrix",
}


def _tables(run_dir):
    return (
        pd.read_parquet(run_dir / "tables" / "models.parquet"),
        pd.read_parquet(run_dir / "tables" / "alignments.parquet"),
    )


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("local")
    outcome = run_study(TINY, run_dir, ExecutorConfig(workers=2, quiet=True))
    return run_dir, outcome


def test_tables_are_complete(local_run):
    run_dir, outcome = local_run
    models, alignments = _tables(run_dir)
    assert MODEL_COLUMNS <= set(models.columns) and ALIGN_COLUMNS <= set(alignments.columns)
    # modality 1: 2 U x 2 depths; modality 2: 2 U x 2 D_phi x 2 depths; each 2 seeds x 2 wds
    assert len(models) == (2 * 2 + 2 * 2 * 2) * 2 * 2
    assert models["key"].is_unique and alignments["key"].is_unique
    assert models.loc[models.modality == "x1", "dphi"].isna().all()
    # one selected (lr, wd) per (U, modality): half the rows
    groups = models.groupby(["u", "modality"])
    assert (groups["selected"].sum() == groups.size() // 2).all()
    # 2 U x 2 D_phi x 1 depth1 x 2 seeds x 2 depths2 x 2 metrics
    assert len(alignments) == 2 * 2 * 2 * 2 * 2
    assert alignments["score"].between(0, 1).all()
    assert (alignments["seed_a"] == alignments["seed_b"]).all()
    assert (run_dir / "spec.yaml").is_file() and (run_dir / "environment.json").is_file()
    status = run_status(run_dir)
    done, total = status.phases["train"]
    assert status.finished and status.study == "synthetic" and done == total
    assert status.phases["align"] == (4, 4)
    assert list(status.phases) == ["train", "align"]
    assert (models.best_epoch < models.epochs).all() and (models.best_epoch >= -1).all()
    assert (models.best_is_last == (models.best_epoch == models.epochs - 1)).all()
    assert alignments.layer_a.between(0, 0).all()  # modality-1 depth 1 has one layer, index 0
    assert (alignments.layer_b < alignments.depth_b).all()


def test_perf_columns_match_the_models_table(local_run):
    run_dir, _ = local_run
    models, alignments = _tables(run_dir)
    chosen = models[models.selected & (models.modality == "x2")]
    merged = alignments.merge(
        chosen, left_on=["u", "dphi", "depth_b", "seed_b"], right_on=["u", "dphi", "depth", "seed"]
    )
    assert len(merged) == len(alignments)
    assert (merged["perf_b"] == merged["test_score"]).all()


def test_rerun_skips_everything_and_same_seed_gives_same_rows(local_run, tmp_path):
    run_dir, _ = local_run
    again = run_study(TINY, run_dir, ExecutorConfig(workers=1, quiet=True))
    assert again.jobs_run == {"train": 0, "align": 0}
    fresh = run_study(TINY, tmp_path / "fresh", ExecutorConfig(workers=1, quiet=True))
    first_models, first_align = _tables(run_dir)
    pd.testing.assert_frame_equal(first_models, fresh.models)
    pd.testing.assert_frame_equal(first_align, fresh.alignments)


def test_a_different_spec_is_refused_in_the_same_directory(local_run):
    run_dir, _ = local_run
    with pytest.raises(FileExistsError, match="different spec"):
        run_study(TINY.model_copy(update={"epochs2": 3}), run_dir)


def test_resume_after_a_failed_job_runs_only_the_missing_jobs(local_run, tmp_path, monkeypatch):
    run_dir, _ = local_run
    real = synthetic_study.run_train_unit
    failed = []

    def flaky(unit):
        parts = getattr(unit, "parts", (unit,))
        if any(j.modality == 2 and j.dphi == 3 and j.depth == 2 and j.u == 8 for j in parts):
            failed.extend(parts)  # a pack of cells trains as one population: all of it fails
            raise RuntimeError("killed on purpose")
        return real(unit)

    monkeypatch.setattr(synthetic_study, "run_train_unit", flaky)
    broken = tmp_path / "broken"
    with pytest.raises(JobsFailed, match="killed on purpose"):
        run_study(TINY, broken, ExecutorConfig(workers=1, quiet=True))
    assert not (broken / "tables" / "alignments.parquet").exists()
    status = run_status(broken)
    done, total = status.phases["train"]
    assert 1 <= len(failed) < total and done == total - len(failed) and not status.finished

    monkeypatch.setattr(synthetic_study, "run_train_unit", real)
    resumed = run_study(TINY, broken, ExecutorConfig(workers=1, quiet=True))
    assert resumed.jobs_run == {"train": len(failed), "align": 4}
    models, alignments = _tables(run_dir)
    pd.testing.assert_frame_equal(models, resumed.models)
    pd.testing.assert_frame_equal(alignments, resumed.alignments)


def test_dask_local_cluster_gives_the_same_rows(local_run, tmp_path):
    pytest.importorskip("distributed")
    run_dir, _ = local_run
    outcome = run_study(TINY, tmp_path / "dask", ExecutorConfig(kind="dask", workers=2, quiet=True))
    models, alignments = _tables(run_dir)
    pd.testing.assert_frame_equal(models, outcome.models)
    pd.testing.assert_frame_equal(alignments, outcome.alignments)
