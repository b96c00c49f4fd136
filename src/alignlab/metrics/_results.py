"""Scores into a :class:`LayerAlignment`: the per-pair null, the null of the maximum, ties."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from alignlab.metrics.calibration import LayerMaxNull
from alignlab.metrics.result import LayerAlignment

NullMode = Literal["subtract", "zscore", "raw"]
TIE_TOL = {torch.float32: 1e-6, torch.float64: 1e-12}  # null maxima this close to best tie


def _check_null_args(null_permutations: Any, null_mode: str) -> int:
    if null_mode not in ("subtract", "zscore", "raw"):
        raise ValueError(f"null_mode must be 'subtract', 'zscore' or 'raw'; got {null_mode!r}.")
    if (
        isinstance(null_permutations, bool)
        or not isinstance(null_permutations, int | np.integer)
        or null_permutations < 0
        or (null_mode == "zscore" and null_permutations == 1)
    ):
        raise ValueError(
            f"null_permutations must be 0 or more (2 or more for null_mode='zscore'); got "
            f"{null_permutations}."
        )
    return int(null_permutations)


def _result(
    metric: str,
    params: dict[str, Any],
    scores: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
    labels: tuple[list[str], list[str]],
    n: int,
    preprocessing: dict[str, Any],
    null_permutations: int,
    null_mode: NullMode,
    dtype: torch.dtype,
) -> LayerAlignment:
    """The :class:`LayerAlignment` of raw scores, shuffled scores and chance (``_scores``)."""
    raw, nulls, chance = scores
    null_mean = null_std = layer_max = None
    tol = 0.0
    matrix = raw
    if nulls is not None:
        null_mean = nulls.mean(axis=0)  # (L1, L2)
        null_std = nulls.std(axis=0, ddof=1) if null_permutations > 1 else np.zeros_like(raw)
        tol = 0.0 if metric == "mutual_knn" else TIE_TOL[dtype]
        layer_max = LayerMaxNull.from_null(raw, nulls, tie_tol=tol)
        if null_mode != "raw":
            matrix = raw - null_mean
        if null_mode == "zscore":
            with np.errstate(divide="ignore", invalid="ignore"):
                matrix = np.where(matrix == 0, 0.0, matrix / null_std)
    return LayerAlignment(
        metric=metric,
        params=params,
        matrix=matrix,
        raw=raw,
        labels_a=tuple(labels[0]),
        labels_b=tuple(labels[1]),
        n_samples=n,
        preprocessing=preprocessing,
        null_mean=null_mean,
        null_std=null_std,
        null_mode=null_mode if null_permutations else None,
        null_permutations=null_permutations,
        layer_max=layer_max,
        chance=chance,
        null_scores=nulls,
        null_tie_tol=tol,
    )
