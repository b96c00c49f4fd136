"""Finding and checking MultiBench's files: path resolution with helpful errors, pickle
reading, and the schema checks of an affective split (which run before anything is trained)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

MULTIBENCH_URL = "https://github.com/pliang279/MultiBench"
ENV_DIR = "ALIGNLAB_MULTIBENCH_DIR"  # folder searched when no path is given


def published_hint() -> str:
    """The sentence that says where MultiBench's files are published and how to point at them."""
    return (
        "MultiBench publishes the affective pickles mosi_data.pkl or mosi_raw.pkl (MOSI), "
        "mosei_senti_data.pkl (MOSEI), humor.pkl (UR-FUNNY) and sarcasm.pkl (MUStARD) and the "
        "avmnist folder, with "
        f"download links in the README of {MULTIBENCH_URL} (see docs/datasets.md); pass the "
        f"file or its folder, or set ${ENV_DIR} to the folder that holds them"
    )


def find_file(file_name: str | tuple[str, ...], path: str | Path | None, what: str) -> Path:
    """``path`` itself if it is a file, else the first of ``file_name`` (one name or several,
    in order of preference) in the folder ``path``; with no path, in ``$ALIGNLAB_MULTIBENCH_DIR``.
    Raises FileNotFoundError naming every file and where it was looked for."""
    names = (file_name,) if isinstance(file_name, str) else tuple(file_name)
    if path is not None:
        p = Path(path).expanduser()
        places = [p / n for n in names] if p.is_dir() else [p]
    elif os.environ.get(ENV_DIR):
        places = [Path(os.environ[ENV_DIR]).expanduser() / n for n in names]
    else:
        raise FileNotFoundError(
            f"{what}: no path given and ${ENV_DIR} is not set, so {' or '.join(names)} was not "
            f"looked for anywhere; {published_hint()}"
        )
    for where in places:
        if where.is_file():
            return where
    looked = "; ".join(f"{w.name} not found, looked for {w}" for w in places)
    raise FileNotFoundError(f"{what}: {looked}; {published_hint()}")


def read_pickle(file: Path) -> Any:
    """The object pickled in ``file`` (a user's own file: unpickling runs code, as always)."""
    with open(file, "rb") as f:
        try:
            return pickle.load(f)
        except UnicodeDecodeError:  # a Python 2 pickle of NumPy arrays
            f.seek(0)
            return pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"{file} is not a readable pickle ({exc})") from None


def check_split(
    raw: dict, pkey: str, modalities: tuple[str, ...], task: str, where: str
) -> dict[str, np.ndarray]:
    """Split ``pkey`` of an affective dict as float32 arrays (N, T, F) per modality and ``"y"``
    (N,), or a ValueError naming the fault. Feature sizes are checked by the caller.

    Audio ``-inf`` becomes 0 here; any other NaN or infinity is refused.
    """
    if pkey not in raw:
        raise ValueError(
            f"{where} has no split {pkey!r} (found keys {sorted(map(str, raw))}); a MultiBench "
            "affective pickle holds 'train', 'valid' and 'test'"
        )
    part = raw[pkey]
    if not isinstance(part, dict):
        raise ValueError(
            f"{where}: split {pkey!r} is a {type(part).__name__}, not a dict of arrays"
        )
    out: dict[str, np.ndarray] = {}
    for m in (*modalities, "labels"):
        if m not in part:
            raise ValueError(
                f"{where}: split {pkey!r} has no key {m!r} (found {sorted(map(str, part))}); each "
                "split must hold 'vision', 'audio', 'text' and 'labels'"
            )
    for m in modalities:
        x = numeric(part[m], f"{where}: split {pkey!r} {m}")
        if x.ndim != 3:
            raise ValueError(
                f"{where}: split {pkey!r} {m} has rank {x.ndim} (shape {x.shape}); expected "
                "(samples, steps, features)"
            )
        if m == "audio":
            x = np.where(np.isneginf(x), 0.0, x).astype(x.dtype, copy=False)
        bad = int((~np.isfinite(x)).sum())
        if bad:
            raise ValueError(f"{where}: split {pkey!r} {m} holds {bad} NaN or infinite values")
        out[m] = x
    shapes = {m: out[m].shape for m in modalities}
    if len({s[0] for s in shapes.values()}) > 1 or len({s[1] for s in shapes.values()}) > 1:
        raise ValueError(
            f"{where}: split {pkey!r} modalities disagree on samples or steps: "
            + ", ".join(f"{m} {s}" for m, s in shapes.items())
        )
    out["y"] = labels_of(part["labels"], shapes["text"][0], task, f"{where}: split {pkey!r}")
    return out


def numeric(value: Any, what: str) -> np.ndarray:
    """``value`` as a float32 array, or a ValueError if it is not numeric (bool counts as not)."""
    x = np.asarray(value)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{what} has dtype {x.dtype}; expected a numeric array")
    return x.astype(np.float32, copy=False)


def labels_of(value: Any, n: int, task: str, where: str) -> np.ndarray:
    """One label per sample from what the released files hold: (n,), (n, 1), (n, 1, 1), or
    (n, 1, k) whose first value is the label (as MultiBench reads them). Returns float32 (n,)
    for regression, or int64 classes (n,) for 2-class classification from {0, 1}, {-1, 1}
    (-1 is class 0) or booleans."""
    raw = np.asarray(value)
    if raw.dtype == bool and task == "regression":
        raise ValueError(
            f"{where} labels are booleans, but this dataset's labels are sentiment scores "
            "(regression, floats in [-3, 3]); is this the right file?"
        )
    y = raw.astype(np.float32) if raw.dtype == bool else numeric(raw, f"{where} labels")
    if y.shape[:1] != (n,) or y.ndim > 3 or (y.ndim > 1 and y.shape[1] != 1):
        raise ValueError(
            f"{where} labels have shape {y.shape}; expected one label per sample: ({n},), "
            f"({n}, 1), ({n}, 1, 1) or ({n}, 1, k) (the first of k values is used), matching "
            "the modalities' sample count"
        )
    y = y.reshape(n) if y.ndim < 3 else y[:, 0, 0]
    if not np.isfinite(y).all():
        raise ValueError(f"{where} labels hold NaN or infinite values")
    if task == "regression":
        return y.astype(np.float32)
    values = set(np.unique(y).tolist())
    if values - {0.0, 1.0} and values - {-1.0, 1.0}:
        shown = sorted(values)[:6]
        raise ValueError(
            f"{where} labels are not 2-class: this is a classification dataset, so labels must "
            f"be booleans or integers in {{0, 1}} or {{-1, 1}}, got values {shown}"
            + (" ..." if len(values) > 6 else "")
        )
    return (y > 0).astype(np.int64)
