"""Is an alignment above chance? Permutation nulls for the best layer pair, and closed forms.

A shuffled pairing (sample ``r`` of A against sample ``p[r]`` of B, for a uniformly random
permutation ``p``) keeps each model's own geometry and destroys the correspondence, so its
score is what the metric gives by chance. The maximum over many layer pairs is inflated
further (more pairs, more chances), so it is compared with the maximum of the shuffled scores
over the same pairs, one permutation applied to all of B's layers at once.

:func:`alignlab.metrics.align_layers` with ``null_permutations=P`` scores ``P`` such pairings
(reusing every layer's prepared matrix) and returns, besides the per-pair null mean and
standard deviation, a :class:`LayerMaxNull` in ``.layer_max``. Where the mean of a shuffled
score has a closed form it is in ``.chance`` (per pair) and, where it depends on ``n`` and the
parameters alone, :func:`chance_level` gives it.

>>> import torch
>>> from alignlab.metrics import align_layers
>>> g = torch.Generator().manual_seed(0)
>>> z = torch.randn(200, 4, generator=g)
>>> a = [z @ torch.randn(4, 16, generator=g) + torch.randn(200, 16, generator=g) for _ in "ab"]
>>> b = [z @ torch.randn(4, 8, generator=g), torch.randn(200, 8, generator=g)]
>>> res = align_layers(a, b, "mutual_knn", k=10, null_permutations=99, null_mode="raw", seed=1)
>>> m = res.layer_max  # B's layer 0 is the shared latent: far above the chance maximum
>>> round(m.best, 3), round(m.null_max_mean, 3), round(m.calibrated, 3)
(0.474, 0.059, 0.415)
>>> m.null_quantile, m.p_value, m.n_permutations
(1.0, 0.01, 99)
>>> chance_level("mutual_knn", n=200, k=10), float(res.chance[1, 1])  # k / (n - 1), per pair
(0.05025125628140704, 0.05025125628140704)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignlab.metrics.registry import get_metric


def chance_level(metric: str, n: int, **params: Any) -> float | None:
    """Expected score of a uniformly random pairing when it depends on ``n`` and the
    parameters alone; None for the metrics where it depends on the data.

    Mutual kNN: ``k / (n - 1)`` (each of a sample's ``k`` neighbours in A is, under a random
    pairing, one of the ``n - 1`` other samples in B, ``k`` of which are neighbours). For CKA
    and CKNNA the exact mean depends on both representations; it is in
    :attr:`LayerAlignment.chance`. Unbiased CKA (clipped at 0) and SVCCA have no closed form.

    Args:
        metric: a name from :func:`alignlab.metrics.list_metrics`.
        n: number of samples, ``n >= 2``.
        **params: the metric's parameters, e.g. ``k=10``.

    Returns:
        float in the metric's range, or None.

    >>> chance_level("mutual_knn", n=512, k=100)
    0.19569471624266144
    >>> chance_level("cka", n=512) is None
    True
    """
    get_metric(metric)  # a named error for unknown metrics
    if metric != "mutual_knn":
        return None
    k = params.get("k")
    if not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(f"chance_level needs 1 <= k < n for mutual_knn; got k={k!r}, n={n}.")
    return k / (n - 1)


@dataclass(frozen=True)
class LayerMaxNull:
    """The best layer pair's score against the permutation null of the maximum over pairs.

    ``null_maxima[t]`` is the maximum over all layer pairs of the raw scores with B's samples
    shuffled by permutation ``t`` (one permutation for all of B's layers). Null maxima within
    ``tie_tol`` of ``best`` count as ties, i.e. as ``>= best`` (conservative).
    """

    best: float  # the largest raw score over all pairs
    best_pair: tuple[int, int]  # its (i, j), the first in row-major order on ties
    null_max_mean: float  # mean of null_maxima: the chance level of the maximum
    null_max_std: float  # their standard deviation, ddof 1 (0 for one permutation)
    calibrated: float  # best - null_max_mean; > 0 means above the chance maximum
    null_quantile: float  # fraction of null maxima below best, in [0, 1]
    p_value: float  # (1 + #{null >= best}) / (1 + n_permutations), in (0, 1]
    n_permutations: int
    null_maxima: np.ndarray = field(repr=False)  # (n_permutations,) float64

    @classmethod
    def from_null(cls, raw: Any, null: Any, tie_tol: float = 0.0) -> LayerMaxNull:
        """Summarise raw scores ``(L1, L2)`` against shuffled scores ``(P, L1, L2)``, P >= 1.

        >>> raw = np.array([[0.2, 0.9]])
        >>> null = np.array([[[0.1, 0.3]], [[0.95, 0.2]], [[0.4, 0.5]]])
        >>> s = LayerMaxNull.from_null(raw, null)
        >>> s.best, s.best_pair, round(s.null_max_mean, 4), s.null_quantile, s.p_value
        (0.9, (0, 1), 0.5833, 0.6666666666666666, 0.5)
        """
        raw = np.asarray(raw, dtype=np.float64)
        null = np.asarray(null, dtype=np.float64)
        if raw.ndim != 2 or null.ndim != 3 or null.shape[1:] != raw.shape or not len(null):
            raise ValueError(
                f"raw must be (L1, L2) and null (P, L1, L2) with P >= 1; got shapes "
                f"{raw.shape} and {null.shape}."
            )
        i, j = np.unravel_index(int(np.argmax(raw)), raw.shape)
        best = float(raw[i, j])
        maxima = null.reshape(len(null), -1).max(axis=1)  # (P,)
        count = len(maxima)
        at_least = int((maxima >= best - tie_tol).sum())
        mean = float(maxima.mean())
        return cls(
            best=best,
            best_pair=(int(i), int(j)),
            null_max_mean=mean,
            null_max_std=float(maxima.std(ddof=1)) if count > 1 else 0.0,
            calibrated=best - mean,
            null_quantile=(count - at_least) / count,
            p_value=(1 + at_least) / (1 + count),
            n_permutations=count,
            null_maxima=maxima,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, ``null_maxima`` as a list."""
        return {
            "best": self.best,
            "best_pair": list(self.best_pair),
            "null_max_mean": self.null_max_mean,
            "null_max_std": self.null_max_std,
            "calibrated": self.calibrated,
            "null_quantile": self.null_quantile,
            "p_value": self.p_value,
            "n_permutations": self.n_permutations,
            "null_maxima": self.null_maxima.tolist(),
        }
