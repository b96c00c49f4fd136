"""Bad input gets a clear error before any training; the wordings are pinned here."""

import re

import numpy as np
import pandas as pd
import pytest
import torch

from alignlab.studies.diagnostic import pipeline as diag
from alignlab.studies.diagnostic.inputs import (
    MIN_SPLIT,
    check_inputs,
    load_array,
    load_table,
    min_samples,
)

N = 400
X = np.zeros((N, 3))
Y = np.arange(N) % 2


def error(*args, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        check_inputs(*args, **kwargs)
    return str(info.value)


def test_different_n_names_every_shape():
    assert error(X, np.zeros((390, 2)), Y) == (
        "x1, x2 and y must have the same number of samples (rows), got x1 (400, 3), "
        "x2 (390, 2), y (400,); row i of each must be the same sample"
    )


def test_nan_and_inf_say_which_array_and_how_many():
    x = X.copy()
    x[:5, 0] = np.nan
    x[7, 1:] = np.inf
    assert error(x, X, Y) == (
        "x1 contains 5 NaN and 2 Inf values in 6 samples; drop or impute those samples "
        "before diagnosing"
    )
    assert error(X, np.full((N, 2), -np.inf), Y).startswith("x2 contains 0 NaN and 800 Inf")
    y = (Y - 0.5).astype(float)
    y[:3] = np.nan
    assert error(X, X, y) == "y contains 3 NaN or Inf values; drop those samples"


def test_single_class():
    assert error(X, X, np.full(N, 3)) == (
        "y has a single class (3); a classifier needs at least 2 classes"
    )


def test_too_few_samples_says_how_many_are_needed():
    needed = min_samples(0.15, 0.15)
    assert error(X[:300], X[:300], Y[:300]) == (
        f"too few samples for the splits: got 300, but validation 0.15 and test 0.15 need at "
        f"least {needed} samples so that train, validation and test each hold {MIN_SPLIT}"
    )
    check_inputs(X[:needed], X[:needed], Y[:needed])  # exactly enough passes
    assert "need at least 654 samples" in error(X, X, Y, val_fraction=0.3, test_fraction=0.075)


def test_labels_of_the_wrong_type():
    assert error(X, X, np.array(["cat", "dog"] * (N // 2))) == (
        "y must hold numbers, got dtype <U3; convert it to a numeric array (class names: "
        "encode them as integers first)"
    )
    assert error(X, X, np.linspace(-1, 1, N), task="classification").startswith(
        "task 'classification' needs integer class labels, but y holds non-integer values "
        "such as -0.994987; set the task to regression"
    )
    assert error(X, X, np.arange(N)) == (
        "y holds 400 distinct integer values, too many to be class labels (at most 100); if it "
        "is a continuous target, set the task to regression (--task regression)"
    )
    assert error(X, X, np.linspace(1, 2, N)).startswith(
        "regression is scored by sign accuracy (the paper's MultiBench convention), so y must "
        "take both signs, but it ranges from 1 to 2; centre it first"
    )
    assert error(X, X, Y.reshape(-1, 1)) == (
        "y must have shape (n_samples,), one label per sample, got (400, 1)"
    )


def test_shapes_of_features():
    assert error(np.zeros(N), X, Y) == (
        "x1 must have shape (n_samples, n_features) or (n_samples, steps, n_features), got "
        "(400,); a single feature: x.reshape(-1, 1)"
    )
    assert error(X, np.zeros((N, 5, 3, 2)), Y).startswith("x2 must have shape (n_samples, ")
    sequence = np.zeros((N, 5, 3))
    sequence[7, 2, 1] = np.nan
    assert error(X, sequence, Y) == (
        "x2 contains 1 NaN and 0 Inf values in 1 samples; drop or impute those samples before "
        "diagnosing"
    )
    assert check_inputs(X, np.zeros((N, 5, 3)), Y).x2.shape == (N, 5, 3)
    assert error(X.astype(complex), X, Y) == "x1 must be real-valued, got dtype complex128"


def test_clean_inputs_encode_labels_and_detect_the_task():
    clean = check_inputs(torch.zeros(N, 3), X, torch.tensor(Y * 10 + 3))
    assert (clean.task, clean.classes, clean.n_classes) == ("classification", (3, 13), 2)
    assert clean.y.dtype == np.int64 and clean.x1.dtype == np.float32
    clean = check_inputs(X, X, Y - 0.5)
    assert (clean.task, clean.classes, clean.y.dtype) == ("regression", None, np.float32)
    clean = check_inputs(X, X, (Y * 2.0), task="classification")  # integral floats are labels
    assert clean.classes == (0.0, 2.0)
    assert check_inputs(X, X, Y.astype(bool)).task == "classification"


def test_diagnose_refuses_bad_input_before_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained despite bad input")

    monkeypatch.setattr(diag, "ladder_for", no_training)
    with pytest.raises(ValueError, match="single class"):
        diag.diagnose(X, X, np.zeros(N, int), progress=False)
    with pytest.raises(ValueError, match=re.escape("got x1 (400, 3), x2 (10, 3)")):
        diag.diagnose(X, X[:10], Y, progress=False)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown metric"):
        diag.DiagnosticSettings(metrics=("cosine",))
    with pytest.raises(ValueError, match="lrs must be finite and positive"):
        diag.DiagnosticSettings(lrs=(0.0,))
    with pytest.raises(ValueError, match="budget"):
        diag.DiagnosticSettings(budget="huge")
    with pytest.raises(ValueError, match="Extra inputs"):
        diag.DiagnosticSettings(epoch=3)
    thorough = diag.DiagnosticSettings(budget="thorough", epochs=5)
    assert (thorough.max_depth, thorough.epochs) == (8, 5)  # the preset, then what is given


# -- files ------------------------------------------------------------------------------------
def test_load_array(tmp_path):
    np.save(tmp_path / "a.npy", X)
    assert load_array(tmp_path / "a.npy", "x1").shape == (N, 3)
    np.savez(tmp_path / "one.npz", X)
    assert load_array(tmp_path / "one.npz", "x1").shape == (N, 3)
    np.savez(tmp_path / "two.npz", a=X, b=X)
    with pytest.raises(ValueError, match=r"holds 2 arrays \(a, b\); give a .npz with exactly one"):
        load_array(tmp_path / "two.npz", "x2")
    (tmp_path / "a.txt").write_text("1")
    with pytest.raises(ValueError, match=r"--y: unsupported file type '.txt'"):
        load_array(tmp_path / "a.txt", "y")
    with pytest.raises(FileNotFoundError, match="--x1: no such file"):
        load_array(tmp_path / "missing.npy", "x1")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_table_with_globs_and_lists(tmp_path, suffix):
    frame = pd.DataFrame(
        {"img_0": [1.0, 2], "img_1": [3.0, 4], "aud_a": [5.0, 6], "aud_b": [7, 8], "label": [0, 1]}
    )
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    x1, x2, y = load_table(path, "img_*", "aud_b, aud_a", "label")
    assert x1.tolist() == [[1, 3], [2, 4]] and x2.tolist() == [[5, 7], [6, 8]]
    assert y.tolist() == [0, 1]
    with pytest.raises(ValueError, match="--x1-cols 'vid_\\*' matches no column of .*img_0, "):
        load_table(path, "vid_*", "aud_*", "label")
    with pytest.raises(ValueError, match="--y-col 'target' is not a column"):
        load_table(path, "img_*", "aud_*", "target")
    with pytest.raises(ValueError, match="--x1-cols and --x2-cols both select img_1"):
        load_table(path, "img_*", "aud_*,img_1", "label")


def test_load_table_refuses_text_columns(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2], "b": ["x", "y"], "y": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="--x2-cols selects non-numeric column\\(s\\): b"):
        load_table(path, "a", "b", "y")
