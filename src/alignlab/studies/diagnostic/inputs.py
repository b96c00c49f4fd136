"""The diagnostic's inputs: loading them from files and checking them before any training.

Every check raises a ``ValueError`` that names the array, what is wrong and what to do; the
tests pin the wordings. Nothing is trained until all checks pass.
"""

from __future__ import annotations

import fnmatch
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.data.splits import split_sizes

MIN_SPLIT = 50  # fewest samples in each of train, validation and test
MAX_CLASSES = 100  # an integer y with more distinct values is not taken for class labels


@dataclass(frozen=True)
class CleanInputs:
    """Checked inputs: ``x1`` (n, d1) and ``x2`` (n, d2) float32, ``y`` (n,) and the task.

    For classification ``y`` is int64 codes 0..C-1 of the sorted distinct labels ``classes``;
    for regression it is float32 and ``classes`` is None.
    """

    x1: np.ndarray
    x2: np.ndarray
    y: np.ndarray
    task: str
    classes: tuple | None

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)


def min_samples(val_fraction: float, test_fraction: float) -> int:
    """Fewest samples whose split leaves :data:`MIN_SPLIT` in each of train, val and test.

    >>> min_samples(0.15, 0.15)
    331
    """
    fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
    n = 3 * MIN_SPLIT
    while min(split_sizes(n, fractions)) < MIN_SPLIT:
        n += 1
    return n


def _as_array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind in "USV":
        raise ValueError(
            f"{name} must hold numbers, got dtype {array.dtype}; convert it to a numeric array"
            + (" (class names: encode them as integers first)" if name == "y" else "")
        )
    if array.dtype.kind == "c":
        raise ValueError(f"{name} must be real-valued, got dtype {array.dtype}")
    return array


def _check_features(x: np.ndarray, name: str) -> None:
    if x.ndim not in (2, 3) or x.shape[-1] < 1:
        hint = "; a single feature: x.reshape(-1, 1)" if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape (n_samples, n_features) or (n_samples, steps, n_features), "
            f"got {x.shape}{hint}"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        n_nan = int(np.isnan(x).sum())
        rows = int(bad.reshape(len(x), -1).any(axis=1).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {int(bad.sum()) - n_nan} Inf values in {rows} "
            "samples; drop or impute those samples before diagnosing"
        )


def _labels(y: np.ndarray, task: str) -> tuple[np.ndarray, str, tuple | None]:
    """Resolve the task and encode ``y``; see :func:`check_inputs`."""
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            f"y contains {int((~np.isfinite(y)).sum())} NaN or Inf values; drop those samples"
        )
    integral = y.dtype.kind in "biu" or bool(np.all(y == np.round(y)))
    if task == "auto":
        task = "classification" if y.dtype.kind in "biu" else "regression"
        if task == "classification" and len(np.unique(y)) > MAX_CLASSES:
            raise ValueError(
                f"y holds {len(np.unique(y))} distinct integer values, too many to be class "
                f"labels (at most {MAX_CLASSES}); if it is a continuous target, set the task "
                "to regression (--task regression)"
            )
    if task == "classification":
        if not integral:
            raise ValueError(
                "task 'classification' needs integer class labels, but y holds non-integer "
                f"values such as {y[y != np.round(y)][0].item():g}; set the task to regression or "
                "round the labels"
            )
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[0].item()!r}); a classifier needs at least 2 "
                "classes"
            )
        return codes.astype(np.int64), task, tuple(classes.tolist())
    if task != "regression":
        raise ValueError(f"task must be auto, classification or regression, got {task!r}")
    y = y.astype(np.float32)
    if not (y.min() < 0 <= y.max()):
        raise ValueError(
            "regression is scored by sign accuracy (the paper's MultiBench convention), so y "
            f"must take both signs, but it ranges from {y.min():g} to {y.max():g}; centre it "
            "first (y - median(y)), or set the task to classification if y holds class labels"
        )
    return y, task, None


def check_inputs(
    x1: Any,
    x2: Any,
    y: Any,
    task: str = "auto",
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> CleanInputs:
    """Check the diagnostic's inputs and return them clean; raise ``ValueError`` otherwise.

    Parameters
    ----------
    x1, x2 : array-like or tensor of shape (n, d1) or (n, T1, F1), and likewise for x2
        The two modalities, row ``i`` of each the same sample. Sequences (n, T, F) are
        encoded by transformers, flat inputs by MLPs.
    y : array-like of shape (n,)
        Integer class labels (any values; encoded as 0..C-1) or float regression targets.
    task : "auto", "classification" or "regression"
        Auto: integer or boolean y is classification (at most :data:`MAX_CLASSES` classes),
        float y is regression. Regression is scored by sign accuracy, so y takes both signs.
    val_fraction, test_fraction : float
        The split; each split needs :data:`MIN_SPLIT` samples.

    >>> clean = check_inputs(np.zeros((400, 3)), np.ones((400, 2)), np.arange(400) % 2 + 5)
    >>> clean.task, clean.classes, clean.y[:3].tolist()
    ('classification', (5, 6), [0, 1, 0])
    """
    arrays = {name: _as_array(v, name) for name, v in (("x1", x1), ("x2", x2), ("y", y))}
    x1a, x2a, ya = arrays["x1"], arrays["x2"], arrays["y"]
    if ya.ndim != 1:
        raise ValueError(f"y must have shape (n_samples,), one label per sample, got {ya.shape}")
    sizes = {name: (a.shape[0] if a.ndim else 0) for name, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        shapes = ", ".join(f"{name} {arrays[name].shape}" for name in arrays)
        raise ValueError(
            f"x1, x2 and y must have the same number of samples (rows), got {shapes}; row i of "
            "each must be the same sample"
        )
    _check_features(x1a, "x1")
    _check_features(x2a, "x2")
    codes, task, classes = _labels(ya, task)
    needed = min_samples(val_fraction, test_fraction)
    if len(ya) < needed:
        raise ValueError(
            f"too few samples for the splits: got {len(ya)}, but validation {val_fraction:g} "
            f"and test {test_fraction:g} need at least {needed} samples so that train, "
            f"validation and test each hold {MIN_SPLIT}"
        )
    return CleanInputs(x1a.astype(np.float32), x2a.astype(np.float32), codes, task, classes)


# -- files ------------------------------------------------------------------------------------
def _input_file(path: str | Path, option: str) -> Path:
    """``path`` as a readable, non-empty file, or an error naming the option and the path."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{option}: no such file: {path}")
    if not path.is_file():
        raise IsADirectoryError(f"{option}: {path} is a folder, not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"{option}: {path} is empty (0 bytes)")
    return path


def load_array(path: str | Path, name: str) -> np.ndarray:
    """One array from a ``.npy`` file, or a ``.npz`` holding exactly one array.

    Raises FileNotFoundError, IsADirectoryError or ValueError naming ``--name`` and the path for a
    missing file, a folder, an empty, truncated or foreign file, or an array of objects.
    """
    option = f"--{name}"
    path = _input_file(path, option)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(
            f"{option}: unsupported file type {path.suffix!r} ({path}); give a .npy or .npz "
            "file, or a Parquet/CSV table with --table"
        )
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as npz:
            if len(npz.files) != 1:
                raise ValueError(
                    f"{option}: {path} holds {len(npz.files)} arrays ({', '.join(npz.files)}); "
                    "give a .npz with exactly one"
                )
            return npz[npz.files[0]]
    except ValueError as exc:
        if str(exc).startswith(option):
            raise
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ValueError(
                f"{option}: {path} holds Python objects, not numbers; save a numeric array"
            ) from None
        raise ValueError(f"{option}: {path} is not a readable {path.suffix} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{option}: {path} is not a readable {path.suffix} file (truncated or another "
            f"format: {type(exc).__name__})"
        ) from None


def _columns(columns: list[str], spec: str, option: str, path: Path) -> list[str]:
    """Columns named by a comma list of names or globs, in the table's order."""
    patterns = [p.strip() for p in spec.split(",") if p.strip()]
    picked = [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]
    if not picked:
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise ValueError(f"{option} {spec!r} matches no column of {path}; its columns: {shown}")
    return picked


def load_table(
    path: str | Path, x1_cols: str, x2_cols: str, y_col: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x1, x2, y)`` from columns of a Parquet or CSV table.

    ``x1_cols`` and ``x2_cols`` are comma lists of column names or globs (``"img_*"``);
    ``y_col`` is one column name. The two modalities may not share a column.
    """
    import pandas as pd

    path = _input_file(path, "--table")
    try:
        if path.suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif path.suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", encoding="utf-8")
        else:
            raise ValueError(
                f"--table: unsupported file type {path.suffix!r} ({path}); give .parquet or .csv"
            )
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"--table: {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except pd.errors.ParserError as exc:
        first = " ".join(str(exc).split())
        raise ValueError(f"--table: {path} is not a valid CSV table ({first})") from None
    except (OSError, ValueError) as exc:
        if str(exc).startswith("--table"):
            raise
        first = " ".join(str(exc).split())[:200]
        raise ValueError(
            f"--table: {path} is not a readable {path.suffix} table (truncated or another "
            f"format: {first})"
        ) from None
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if y_col not in columns:
        raise ValueError(f"--y-col {y_col!r} is not a column of {path}")
    c1 = [c for c in _columns(columns, x1_cols, "--x1-cols", path) if c != y_col]
    c2 = [c for c in _columns(columns, x2_cols, "--x2-cols", path) if c != y_col]
    shared = sorted(set(c1) & set(c2))
    if shared:
        raise ValueError(f"--x1-cols and --x2-cols both select {', '.join(shared)}")
    for option, cols in (("--x1-cols", c1), ("--x2-cols", c2)):
        if not cols:
            raise ValueError(f"{option} selects only the label column {y_col!r}")
        text = [c for c in cols if not pd.api.types.is_numeric_dtype(frame[c])]
        if text:
            raise ValueError(f"{option} selects non-numeric column(s): {', '.join(text)}")
    return frame[c1].to_numpy(), frame[c2].to_numpy(), frame[y_col].to_numpy()
