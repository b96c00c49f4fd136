"""Every report states the size of its run and whether it can support its claims."""

import json

import numpy as np
import pandas as pd
import pytest

from alignlab.analysis.multibench_report import MAX_WIDTH, MIN_MODELS, write_multibench_report
from alignlab.studies.multibench.study import table1


def multibench_run(root, depths, seeds, accuracy, slope, noise, n_train=512, seed=0):
    """A MultiBench run directory of avdigits (10 classes) with hand-made tables: test
    accuracy ``accuracy`` (+ depth), alignment = slope * accuracy + noise."""
    rng = np.random.default_rng(seed)
    models, aligned = [], []
    for modality, other in (("vision", "audio"), ("audio", "vision")):
        for d in depths:
            for s in seeds:
                acc = accuracy + 0.01 * d + rng.normal(0, 0.01)
                models.append({"key": f"{modality}{d}{s}", "modality": modality, "depth": d,
                               "seed": s, "lr": 1e-3, "wd": 0.0, "val_score": acc,
                               "test_score": acc, "selected": True, "task": "classification",
                               "kind": "transformer", "diverged": False})  # fmt: skip
                aligned.append({"dataset": "avdigits", "modality_a": other, "modality_b": modality,
                                "depth_a": 1, "seed_a": 0, "val_a": 0.5, "depth_b": d, "seed_b": s,
                                "score": slope * acc + rng.normal(0, noise), "perf_b": acc,
                                "n": 512})  # fmt: skip
    alignments = pd.DataFrame(aligned)
    (root / "tables").mkdir(parents=True)
    pd.DataFrame(models).to_parquet(root / "tables" / "models.parquet")
    alignments.to_parquet(root / "tables" / "alignments.parquet")
    table1(alignments, n_boot=200).to_parquet(root / "tables" / "table1.parquet")
    (root / "spec.yaml").write_text(f"study: multibench\ndataset: avdigits\nepochs: 2\n"
                                    f"n_train: {n_train}\n")  # fmt: skip
    (root / "environment.json").write_text(json.dumps({"alignlab": "0"}))
    return root


def size_section(page: str) -> str:
    start = page.index('id="size"')
    return page[start : page.index("<h2>", start + 10)]


def test_a_quick_avdigits_run_is_called_a_smoke_test(tmp_path):
    run = multibench_run(tmp_path / "quick", (1, 2, 3, 4), (2, 22), 0.12, 1.0, 0.2)
    page = write_multibench_report(run).read_text()
    size = size_section(page)
    assert "This run is a smoke test" in size and "Table 1 (smoke test: not evidence)" in page
    assert f"8 models per correlation (fewer than {MIN_MODELS})" in size
    assert "16 models trained" in size and "2 epochs on 512 training samples" in size
    t1 = pd.read_parquet(run / "tables" / "table1.parquet")
    width = (t1["high"] - t1["low"]).max()
    assert width > MAX_WIDTH and f"95% intervals up to {width:.2f} wide" in size
    assert "the vision models are near chance" in size and "chance 0.100" in size


def test_a_well_trained_large_run_is_not(tmp_path):
    run = multibench_run(tmp_path / "big", range(1, 11), range(3), 0.8, 1.0, 0.002)
    page = write_multibench_report(run).read_text()
    size = size_section(page)
    assert "smoke test" not in page and 'id="adequate"' in size
    assert "30 models" in size and "<h2>Table 1</h2>" in page


@pytest.mark.parametrize("accuracy, near", [(0.1, True), (0.35, False)])
def test_near_chance_is_judged_against_the_class_count(tmp_path, accuracy, near):
    run = multibench_run(tmp_path / "run", range(1, 11), range(3), accuracy, 1.0, 0.002)
    size = size_section(write_multibench_report(run).read_text())
    assert ("near chance" in size) is near


def vl_run(root, languages, levels, n):
    """A vision-language run directory: alignment falls with the level and with bpb."""
    rng = np.random.default_rng(0)
    align, lang = [], []
    for level in levels:
        for j, name in enumerate(languages):
            bpb = 1.0 + 0.2 * j + level / 50
            lang.append({"language": name, "level": level, "bpb_mean": bpb, "bpb_pooled": bpb})
            for i, vision in enumerate(("v-small", "v-large")):
                score = 0.6 - level / 100 + 0.05 * i - 0.02 * j + rng.normal(0, 0.002)
                align.append({"vision": vision, "language": name, "level": level,
                              "score": score, "n": n})  # fmt: skip
    (root / "tables").mkdir(parents=True)
    pd.DataFrame(align).to_parquet(root / "tables" / "alignments.parquet")
    pd.DataFrame(lang).to_parquet(root / "tables" / "language.parquet")
    (root / "spec.yaml").write_text("study: vl\n")
    (root / "environment.json").write_text("{}")
    return root


def test_vl_report_names_what_is_too_small(tmp_path):
    from alignlab.analysis.vl_report import MIN_PAIRS, write_vl_report

    small = vl_run(tmp_path / "small", ("a", "b"), (0, 50), 64)
    size = size_section(write_vl_report(small, n_boot=100).read_text())
    assert "2 vision and 2 language model(s) at 2 perturbation level(s)" in size
    assert "2 levels per trend (fewer than 4)" in size
    assert "2 language model(s) per correlation with performance (fewer than 3)" in size
    assert f"64 image-caption pairs (fewer than {MIN_PAIRS})" in size
    big = vl_run(tmp_path / "big", ("a", "b", "c", "d"), (0, 10, 20, 30, 40, 50), 1024)
    size = size_section(write_vl_report(big, n_boot=100).read_text())
    assert "smoke test" not in size and "on 1024 image-caption pairs" in size


def diagnostic_result(n_models, low, high, best, classes=10):
    metric = {"metric": "unbiased_cka", "spearman": {"low": low, "high": high}}
    direction = {"name": "audio models vs the best image model", "n_models": n_models,
                 "metrics": [metric], "test_scores": {"best": best}}  # fmt: skip
    return {"data": {"n_samples": 2000, "n_align": 400}, "task": "classification",
            "classes": list(range(classes)), "directions": [direction]}  # fmt: skip


def test_diagnostic_size_checks_models_interval_and_chance():
    from alignlab.analysis.diagnostic_report import run_size

    facts, limits, caveats = run_size(diagnostic_result(6, -0.7, 0.9, 0.15))
    assert "2000 samples; alignment on 400 test samples." in facts
    assert any("[-0.70, 0.90]" in f and "chance 0.100" in f for f in facts)
    assert limits == [
        "audio models vs the best image model: models near chance (0.150 against 0.100)",
        "audio models vs the best image model: 6 models (fewer than 10)",
    ]
    assert caveats == ["audio models vs the best image model: interval 1.60 wide (more than 0.5)"]
    assert run_size(diagnostic_result(24, 0.5, 0.9, 0.8))[1:] == ([], [])
    assert run_size(diagnostic_result(24, 0.5, 0.9, 0.55, classes=2))[1][0].endswith(
        "near chance (0.550 against 0.500)"
    )


def test_enough_models_with_wide_intervals_is_uncertain_not_a_smoke_test(tmp_path):
    run = multibench_run(tmp_path / "mid", range(1, 8), range(3), 0.5, 1.0, 0.05)
    page = write_multibench_report(run).read_text()
    size = size_section(page)
    t1 = pd.read_parquet(run / "tables" / "table1.parquet")
    width = (t1["high"] - t1["low"]).max()
    assert width > MAX_WIDTH and "smoke test" not in page and 'id="uncertain"' in size
    assert f"95% intervals up to {width:.2f} wide" in size and "<h2>Table 1</h2>" in page


def test_html_tables_scroll_inside_the_page_rather_than_overflow_it():
    from alignlab.analysis.page import CSS

    rule = CSS[CSS.index("table {") : CSS.index("}", CSS.index("table {"))]
    assert "max-width: 100%" in rule and "overflow-x: auto" in rule and "display: block" in rule


def test_multibench_caption_names_the_grid_and_no_paper_value_for_avdigits(tmp_path):
    run = multibench_run(tmp_path / "quick", (1, 2, 3, 4), (2, 22), 0.12, 1.0, 0.2)
    page = write_multibench_report(run).read_text()
    assert "depths 1 to 4 x 2 seed(s), at the selected lr and wd" in page
    assert "(no published value for this dataset)" in page and "and the paper&#x27;s" not in page
