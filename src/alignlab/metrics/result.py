"""The result of aligning all layer pairs of two models."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignlab.metrics.calibration import LayerMaxNull


def _jsonable(m: np.ndarray) -> list:
    """Nested lists with non-finite entries (possible z-scores) as None, for strict JSON."""
    return [[v if math.isfinite(v) else None for v in row] for row in m.tolist()]


@dataclass(frozen=True)
class LayerAlignment:
    """Scores of every layer pair of two models, and the best pair.

    ``matrix[i, j]`` scores layer ``labels_a[i]`` of A against ``labels_b[j]`` of B (per-pair
    null-calibrated when a null was asked for with ``null_mode`` "subtract" or "zscore"; ``raw``
    keeps the uncalibrated scores). With a null, ``layer_max`` compares the best raw score with
    the null of the maximum over all pairs (:class:`alignlab.metrics.LayerMaxNull`).
    """

    metric: str
    params: dict[str, Any]  # the metric's parameters, e.g. {"k": 10}
    matrix: np.ndarray  # (L1, L2) float64, what "best" is taken over
    raw: np.ndarray  # (L1, L2) float64, the metric itself
    labels_a: tuple[str, ...]  # "0", "1", ..., and "concat" if included
    labels_b: tuple[str, ...]
    n_samples: int
    preprocessing: dict[str, Any] = field(default_factory=dict)
    null_mean: np.ndarray | None = None  # (L1, L2) mean score over shuffled pairings
    null_std: np.ndarray | None = None  # (L1, L2) their standard deviation (ddof 1)
    null_mode: str | None = None
    null_permutations: int = 0
    layer_max: LayerMaxNull | None = None  # the best raw pair against the null of the maximum
    chance: np.ndarray | None = None  # (L1, L2) exact mean score of a random pairing, if known
    null_scores: np.ndarray | None = field(default=None, repr=False)  # (P, L1, L2) raw, shuffled
    null_tie_tol: float = 0.0  # null scores this close to a raw score count as ties

    @property
    def best_pair(self) -> tuple[int, int]:
        """``(i, j)`` of the largest entry of ``matrix``; the first in row-major order on ties."""
        i, j = np.unravel_index(int(np.argmax(self.matrix)), self.matrix.shape)
        return int(i), int(j)

    @property
    def best(self) -> float:
        """The largest entry of ``matrix``."""
        return float(self.matrix[self.best_pair])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with the full matrices."""
        i, j = self.best_pair
        out: dict[str, Any] = {
            "metric": self.metric,
            "params": self.params,
            "n_samples": self.n_samples,
            "preprocessing": self.preprocessing,
            "labels_a": list(self.labels_a),
            "labels_b": list(self.labels_b),
            "best": self.best if math.isfinite(self.best) else None,
            "best_pair": [i, j],
            "best_labels": [self.labels_a[i], self.labels_b[j]],
            "matrix": _jsonable(self.matrix),
        }
        if self.null_permutations:
            out["null"] = {
                "mode": self.null_mode,
                "permutations": self.null_permutations,
                "raw": _jsonable(self.raw),
                "mean": _jsonable(self.null_mean),
                "std": _jsonable(self.null_std),
            }
        if self.layer_max is not None:
            out["layer_max"] = self.layer_max.to_dict()
        if self.chance is not None:
            out["chance"] = _jsonable(self.chance)
        return out
