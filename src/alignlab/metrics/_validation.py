"""One shared checker for every public metric: the only place inputs are validated.

Public functions call :func:`as_representation` / :func:`check_pair` once, then hand clean
tensors (2-D, floating, finite, non-constant, on one device) to private functions that assume
them valid. Every message names the argument, what was expected, what arrived and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_dtype(dtype: torch.dtype) -> torch.dtype:
    """Refuse any compute dtype other than float32 or float64."""
    if dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"dtype must be torch.float32 or torch.float64; got {dtype}. "
            "Pass dtype=torch.float64 for more precision."
        )
    return dtype


def to_tensor(x: Any, name: str) -> torch.Tensor:
    """A torch tensor viewing (or copying) ``x``; no dtype or device change yet."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise ValueError(
                f"{name} must hold real numbers; got a numpy array of dtype {x.dtype}. "
                "Convert it with np.asarray(x, dtype=np.float32)."
            )
        if not x.flags.writeable or not x.flags.c_contiguous:
            x = np.array(x, copy=True, order="C")
        return torch.from_numpy(x)
    raise TypeError(
        f"{name} must be a torch.Tensor or numpy.ndarray of shape (n_samples, n_features); "
        f"got {type(x).__name__}."
    )


def as_representation(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
    min_samples: int = 2,
    why: str = "",
) -> torch.Tensor:
    """Validate one representation and return it as a ``(n, d)`` tensor of ``dtype``.

    ``why`` names the metric that needs ``min_samples``, for the message.
    """
    return checked_representation(
        x, name, dtype=dtype, device=device, min_samples=min_samples, why=why
    )[0]


def checked_representation(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
    min_samples: int = 2,
    why: str = "",
) -> tuple[torch.Tensor, float]:
    """:func:`as_representation`'s ``(n, d)`` tensor and its Euclidean norm over all entries
    (inf where the squares overflow ``dtype``), from the pass that tests finiteness: a finite
    norm means finite entries; only an infinite or NaN norm takes the entrywise test."""
    t = to_tensor(x, name)
    if t.is_complex():
        raise ValueError(f"{name} must hold real numbers; got complex dtype {t.dtype}.")
    if t.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features); got shape {tuple(t.shape)}. "
            "Reshape it, e.g. x.reshape(n_samples, -1), or pass layers one at a time."
        )
    n, d = t.shape
    if d == 0:
        raise ValueError(f"{name} has 0 features (shape {tuple(t.shape)}); pass a non-empty layer.")
    if n < min_samples:
        need = f"{why} needs" if why else "this metric needs"
        raise ValueError(
            f"{name} has {n} samples; {need} at least {min_samples}. Pass more samples."
        )
    source = t
    t = t.to(device=device if device is not None else t.device, dtype=check_dtype(dtype))
    norm = float(torch.linalg.vector_norm(t))
    if not math.isfinite(norm) and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        if source.dtype != t.dtype and bool(torch.isfinite(source).all()):
            top = float(source.abs().max())
            raise ValueError(
                f"{name} holds values up to {top:.3g}, beyond the range of {dtype} (largest "
                f"{torch.finfo(dtype).max:.3g}): {bad} of them became Inf. Pass "
                "dtype=torch.float64, or divide the features by a constant first (the "
                "metrics are scale invariant)."
            )
        raise ValueError(
            f"{name} contains {bad} NaN or Inf values; metrics need finite features. "
            "Remove or impute those samples (in both representations) first."
        )
    if torch.equal(t, t[:1].expand_as(t)):  # every row equals the first (stops at a difference)
        raise ValueError(
            f"{name} is constant (zero variance): all {n} samples have the same features, so it "
            "has no similarity structure. Check that the layer is not dead or drop it."
        )
    return t, norm


def check_same_n(ns: Sequence[int], names: Sequence[str]) -> None:
    """All representations must hold the same samples: the same number of rows."""
    if len(set(ns)) > 1:
        listing = ", ".join(f"{nm} has {n}" for nm, n in zip(names, ns, strict=True))
        raise ValueError(
            f"representations must hold the same samples in the same order, but their numbers "
            f"of rows differ: {listing}. Pass the same n samples to both."
        )


def check_pair(
    a: Any,
    b: Any,
    *,
    dtype: torch.dtype = torch.float32,
    min_samples: int = 2,
    why: str = "",
    names: tuple[str, str] = ("a", "b"),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two paired representations; ``b`` moves to ``a``'s device."""
    ta = to_tensor(a, names[0])
    tb = to_tensor(b, names[1])
    if ta.ndim >= 1 and tb.ndim >= 1:
        check_same_n([ta.shape[0], tb.shape[0]], names)
    ta = as_representation(ta, names[0], dtype=dtype, min_samples=min_samples, why=why)
    tb = as_representation(
        tb, names[1], dtype=dtype, device=ta.device, min_samples=min_samples, why=why
    )
    return ta, tb


def check_k(k: Any, n: int, name: str = "k") -> int:
    """``k`` neighbours of a sample, itself excluded: an integer with ``1 <= k < n``."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"{name} must be an integer number of neighbours; got {k!r}.")
    k = int(k)
    if not 1 <= k < n:
        raise ValueError(
            f"{name} must satisfy 1 <= {name} < n (a sample is not its own neighbour); got "
            f"{name}={k} with n={n} samples. Lower {name} or pass more samples."
        )
    return k


def check_fraction(value: Any, name: str, *, low_open: bool = True) -> float:
    """A number in (0, 1] (or [0, 1] when ``low_open`` is False)."""
    v = float(value)
    ok = (0.0 < v <= 1.0) if low_open else (0.0 <= v <= 1.0)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}; got {value!r}.")
    return v
