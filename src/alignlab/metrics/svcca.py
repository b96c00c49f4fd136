"""SVCCA (Raghu et al. 2017): SVD to the directions explaining most variance, then CCA.

Deterministic: exact SVDs (LAPACK), no random projections. Features are centred but not scaled
per feature (scaling would break invariance to rotations).
"""

from __future__ import annotations

from typing import Any

import torch

from alignlab.metrics._reduce import rescale_pow2
from alignlab.metrics._validation import check_fraction, check_pair


def _svcca_basis(x: torch.Tensor, keep_variance: float = 0.99) -> torch.Tensor:
    """Per-representation work: an orthonormal ``(n, r)`` basis of the top SVD directions.

    ``r`` is the smallest number of directions whose variance reaches ``keep_variance`` of the
    total, and never more than the numerical rank.
    """
    x = rescale_pow2(x)  # exact; keeps the SVD of huge or tiny features in range
    xc = x - x.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)  # u (n, m), s (m,)
    var = s.to(torch.float64) ** 2
    frac = torch.cumsum(var, 0) / var.sum()
    r = int((frac < keep_variance - 1e-12).sum()) + 1
    rank = int((s > s[0] * max(x.shape) * torch.finfo(x.dtype).eps).sum())
    return u[:, : max(1, min(r, rank))]


def _svcca_from_bases(ua: torch.Tensor, ub: torch.Tensor) -> float:
    """Mean canonical correlation of two subspaces: singular values of ``ua^T ub``."""
    rho = torch.linalg.svdvals(ua.T @ ub)  # (min(ra, rb),), the canonical correlations
    return float(rho.mean().clamp(0.0, 1.0))


def svcca(
    a: Any, b: Any, *, keep_variance: float = 0.99, dtype: torch.dtype = torch.float32
) -> float:
    """Singular vector canonical correlation analysis similarity.

    Each representation is centred and reduced to its top singular directions explaining
    ``keep_variance`` of its variance; the score is the mean of the ``min(r_a, r_b)`` canonical
    correlations between the two reduced subspaces. Meaningful only when ``n_samples`` is well
    above ``r_a + r_b`` (otherwise the subspaces overlap by chance and the score tends to 1).

    Larger is more similar; symmetric; invariant to orthogonal transforms, isotropic scaling and
    translation.

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b).
        keep_variance: fraction of variance the kept directions explain, in (0, 1].
        dtype: compute dtype.

    Returns:
        float in [0, 1]; 1 when the kept subspaces coincide.

    >>> x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    >>> round(svcca(x, x @ torch.randn(6, 6, generator=torch.Generator().manual_seed(1))), 4)
    1.0
    """
    keep_variance = check_fraction(keep_variance, "keep_variance")
    a, b = check_pair(a, b, dtype=dtype)
    return _svcca_from_bases(_svcca_basis(a, keep_variance), _svcca_basis(b, keep_variance))
