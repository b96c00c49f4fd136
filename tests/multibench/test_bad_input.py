"""Bad input fails with a clear message before anything is trained; the CLI end to end."""

import pytest
import torch
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.data import Split
from alignlab.experiments import ExecutorConfig, run_study
from alignlab.studies.multibench import MultiBenchStudySpec
from alignlab.studies.multibench.data import StudyData, check_study_data, from_paired

from .conftest import MOSI_SIZES, SPLIT_SIZES, affective_raw, toy_paired

runner = CliRunner()
TINY = ["--set", "depths=[1, 2]", "--set", "seeds=[2, 22]", "--set", "lrs=[0.001]",
        "--set", "wds=[0.0]", "--set", "epochs=1", "--set", "n_boot=20"]  # fmt: skip


def _run(args):
    return runner.invoke(app, ["run", "multibench", *args, "--workers", "1", "--quiet"])


def test_cli_runs_a_mosi_pickle_end_to_end(mosi_pickle, tmp_path):
    folder = mosi_pickle()
    result = _run([str(tmp_path / "run"), "--dataset", "mosi", "--data", str(folder), *TINY])
    assert result.exit_code == 0, result.output
    for words in ("Table 1 (mosi)", "vision", "text", "-0.336", "report: alignlab report"):
        assert words in result.output
    said = " ".join(result.output.split())
    assert "smoke test, not evidence: 4 models per correlation (fewer than 20)" in said
    assert "mosi: dataset mosi" in said and "normalization release" in said  # data, at start
    report = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert report.exit_code == 0, report.output


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("missing_key", "no split 'valid'"),
        ("counts", "audio"),
        ("rank", "text"),
        ("labels", "labels"),
    ],
)
def test_bad_pickles_fail_before_training(mosi_pickle, tmp_path, fault, message):
    raw = affective_raw(MOSI_SIZES, SPLIT_SIZES)
    if fault == "missing_key":
        del raw["valid"]
    elif fault == "counts":  # audio has fewer samples than the other modalities
        raw["train"]["audio"] = raw["train"]["audio"][:-3]
    elif fault == "rank":  # text without its time axis
        raw["test"]["text"] = raw["test"]["text"][:, 0]
    else:  # labels (N, 2): no released file holds those
        raw["train"]["labels"] = raw["train"]["labels"].reshape(-1, 1).repeat(2, axis=1)
    run = tmp_path / "run"
    result = _run([str(run), "--dataset", "mosi", "--data", str(mosi_pickle(raw)), *TINY])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert not run.exists()  # nothing written, nothing trained


def test_labels_of_the_wrong_task_type_in_a_pickle(tmp_path):
    """MUStARD is classification: real-valued labels are refused before training."""
    import pickle

    raw = affective_raw({"vision": 371, "audio": 81, "text": 300}, SPLIT_SIZES, regression=True)
    with open(tmp_path / "sarcasm.pkl", "wb") as f:
        pickle.dump(raw, f)
    result = _run([str(tmp_path / "run"), "--dataset", "mustard", "--data", str(tmp_path), *TINY])
    assert result.exit_code == 2 and "labels" in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_missing_data_gets_the_loaders_message(tmp_path, monkeypatch):
    monkeypatch.delenv("ALIGNLAB_MULTIBENCH_DIR", raising=False)
    result = _run([str(tmp_path / "run"), "--dataset", "mustard", *TINY])
    assert result.exit_code == 2 and "sarcasm.pkl" in result.output
    result = _run([str(tmp_path / "run"), "--dataset", "mosi", "--data", str(tmp_path), *TINY])
    assert result.exit_code == 2 and "mosi_raw.pkl not found, looked for" in result.output
    result = _run([str(tmp_path / "run"), "--dataset", "imagenet", *TINY])
    assert result.exit_code == 2 and "unknown dataset 'imagenet'" in result.output
    result = _run([str(tmp_path / "run"), "--dataset", "mosi", "--set", "depths=[0]"])
    assert result.exit_code == 2 and "depths" in result.output


def _study(changes=None) -> StudyData:
    data = toy_paired(n=(12, 6, 6))
    splits = {s: dict(d) for s, d in from_paired(data).splits.items()}
    for (split, m), value in (changes or {}).items():
        splits[split][m] = value
    return StudyData("toy", "classification", 3, splits)


def test_study_data_checks_name_the_fault():
    good = _study()
    check_study_data(good)
    x, mask, y = good.splits["train"]["a"]
    cases = [
        (_study({("train", "a"): (x[:, 0], None, y)}), r"toy train a: x must be a sequence"),
        (_study({("val", "b"): (good.splits["val"]["b"][0][:, :2], None,
                                  good.splits["val"]["b"][2])}), r"\(T, F\) differs"),
        (_study({("train", "a"): (x[:5], mask[:5], y)}), "5 samples but 12 labels"),
        (_study({("train", "a"): (x, mask.float(), y)}), "mask must be bool"),
        (StudyData("toy", "classification", 3, {s: {m: (v[0], v[1], v[2].float()) for m, v in
               d.items()} for s, d in good.splits.items()}), "needs integer class labels"),
        (StudyData("toy", "regression", None, good.splits), "needs finite float targets"),
        (_study({("test", "b"): (good.splits["test"]["b"][0] * float("nan"), None,
                                   good.splits["test"]["b"][2])}), "NaN"),
    ]  # fmt: skip
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            check_study_data(data)


def test_python_api_refuses_bad_data_before_touching_the_run_dir(tmp_path):
    data = toy_paired(n=(12, 6, 6))
    bad = type(data)(
        train=Split(data.train.x1[:, :, 0], data.train.x2, data.train.y),  # flat modality a
        val=data.val, test=data.test, task="classification", n_classes=3,
        modalities=("a", "b"), name="toy",
    )  # fmt: skip
    spec = MultiBenchStudySpec(dataset="toy", depths=[1], epochs=1, device="cpu")
    with pytest.raises(ValueError, match=r"x must be a sequence batch of shape \(n, T, F\)"):
        run_study(spec, tmp_path / "run", ExecutorConfig(workers=1, quiet=True), data=bad)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="modalities"):
        MultiBenchStudySpec(modalities=["text"])
    labels = type(data)(train=data.train, val=data.val, test=Split(data.test.x1, data.test.x2,
                        torch.full((6,), 5)), task="classification", n_classes=3)  # fmt: skip
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        run_study(spec, tmp_path / "run", ExecutorConfig(workers=1, quiet=True), data=labels)
