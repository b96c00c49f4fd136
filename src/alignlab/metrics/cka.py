"""HSIC and centred kernel alignment (CKA): linear or RBF kernel, biased or unbiased.

For a representation ``x`` of shape ``(n, d)`` the kernel is ``K = x_c x_c^T`` (linear, with
``x_c`` the column-centred features) or ``K_ij = exp(-|x_i - x_j|^2 / (2 sigma^2))`` (RBF, with
``sigma = sigma_multiple * median`` of the off-diagonal pairwise Euclidean distances, the
convention of Kornblith et al. 2019). Each representation is prepared once into an ``(n, n)``
matrix whose inner products give HSIC:

- biased HSIC (Gretton et al. 2005): ``HKH``, ``H = I - 11^T/n``;
  ``HSIC_b = <HKH, HLH> / (n-1)^2``.
- unbiased HSIC (Song et al. 2012): the U-centred ``K~`` (diagonal zeroed, then centred with its
  row sums and total); ``HSIC_u = <K~_U, L~_U> / (n (n-3))``, which equals Song et al.'s
  ``[tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3))``, in O(n^2).

CKA is then ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``; the normalising constants cancel.
CKA is scale invariant, so features are first multiplied by the power of two that brings their
largest ``|x|`` near 1 (exact): scores of features of size 1e18 or 1e-20 neither overflow nor
underflow. HSIC is not scale invariant and is computed on the features as given.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from alignlab.metrics._reduce import cosine_scores, gram, pair_dots, rescale_pow2, self_dots
from alignlab.metrics._validation import check_pair
from alignlab.metrics.preprocess import _quantile

Kernel = Literal["linear", "rbf"]


def _kernel(
    x: torch.Tensor, kernel: Kernel, sigma_multiple: float, rescale: bool = True
) -> torch.Tensor:
    """``(n, d) -> (n, n)`` kernel matrix of the column-centred features (of ``x`` times a
    power of two bringing ``max |x|`` near 1 when ``rescale``: a scale-free kernel)."""
    if rescale:
        x = rescale_pow2(x)
    xc = x - x.mean(dim=0, keepdim=True)
    g = gram(xc)  # (n, n)
    if kernel == "linear":
        return g
    if kernel != "rbf":
        raise ValueError(f"kernel must be 'linear' or 'rbf'; got {kernel!r}.")
    if not sigma_multiple > 0:
        raise ValueError(f"sigma_multiple must be > 0; got {sigma_multiple!r}.")
    sq = torch.diagonal(g)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * g).clamp_min(0.0)  # squared distances, (n, n)
    d2.fill_diagonal_(0.0)
    off = ~torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    median = _quantile(d2[off].sqrt(), 0.5)
    if not median > 0:
        raise ValueError(
            "the RBF bandwidth is 0: the median pairwise distance between samples is 0 (most "
            "samples coincide). Use the linear kernel or remove duplicate samples."
        )
    sigma = sigma_multiple * median
    return torch.exp(-d2 / (2.0 * sigma**2))


def _double_centre(k: torch.Tensor) -> torch.Tensor:
    """``HKH`` for a symmetric ``(n, n)`` matrix, in O(n^2) from row means."""
    row = k.mean(dim=1)
    return k - row[:, None] - row[None, :] + row.mean()


def _u_centre(k: torch.Tensor) -> torch.Tensor:
    """U-centring of a symmetric ``(n, n)`` matrix (needs n >= 4): diagonal zeroed, centred."""
    n = k.shape[0]
    kt = k.clone()
    kt.fill_diagonal_(0.0)
    rows = kt.sum(dim=1)  # (n,)
    total = rows.sum()
    u = kt - rows[:, None] / (n - 2) - rows[None, :] / (n - 2) + total / ((n - 1) * (n - 2))
    u.fill_diagonal_(0.0)
    return u


def _cka_matrix(
    x: torch.Tensor, kernel: Kernel = "linear", sigma_multiple: float = 1.0, rescale: bool = True
):
    """Per-representation work of biased CKA: the centred kernel ``HKH``, ``(n, n)``."""
    if kernel == "linear":
        return _kernel(x, kernel, sigma_multiple, rescale)  # x_c x_c^T is already HKH
    return _double_centre(_kernel(x, kernel, sigma_multiple, rescale))


def _ucka_matrix(
    x: torch.Tensor, kernel: Kernel = "linear", sigma_multiple: float = 1.0, rescale: bool = True
):
    """Per-representation work of unbiased CKA: the U-centred kernel, ``(n, n)``."""
    return _u_centre(_kernel(x, kernel, sigma_multiple, rescale))


def _pair_score(pa: torch.Tensor, pb: torch.Tensor, *, clip_negative: bool) -> float:
    sa, sb = pa[None], pb[None]  # (1, n, n)
    score = cosine_scores(
        pair_dots(sa, sb), self_dots(sa), self_dots(sb), clip_negative=clip_negative
    )
    return float(score[0, 0])


def hsic(
    a: Any,
    b: Any,
    *,
    kernel: Kernel = "linear",
    sigma_multiple: float = 1.0,
    unbiased: bool = False,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Hilbert-Schmidt independence criterion between two representations of the same samples.

    Biased: ``tr(KHLH) / (n-1)^2`` (Gretton et al. 2005). Unbiased: the estimator of Song et
    al. (2012), which needs ``n >= 4`` and can be negative; it is returned as is (only
    :func:`unbiased_cka` clips).

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b).
        kernel: ``"linear"`` or ``"rbf"``.
        sigma_multiple: RBF bandwidth as a multiple of the median pairwise distance.
        unbiased: use the unbiased estimator.
        dtype: compute dtype; HSIC is not scale-free, so prefer ``torch.float64`` for raw values.

    Returns:
        float, >= 0 for the biased estimator; 0 for independent representations in expectation.

    >>> x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    >>> round(hsic(x, 2 * x) / hsic(x, x), 4)
    4.0
    """
    need = {"min_samples": 4, "why": "unbiased HSIC"} if unbiased else {"why": "HSIC"}
    a, b = check_pair(a, b, dtype=dtype, **need)
    n = a.shape[0]
    prepare = _ucka_matrix if unbiased else _cka_matrix
    scale = n * (n - 3) if unbiased else (n - 1) ** 2
    pa = prepare(a, kernel, sigma_multiple, rescale=False)
    pb = prepare(b, kernel, sigma_multiple, rescale=False)
    return float(pair_dots(pa[None], pb[None])[0, 0]) / scale


def cka(
    a: Any,
    b: Any,
    *,
    kernel: Kernel = "linear",
    sigma_multiple: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Centred kernel alignment (Kornblith et al. 2019) with the biased HSIC estimator.

    Larger is more similar; symmetric; invariant to orthogonal transforms, isotropic scaling and
    translation (features are centred inside, as the definition requires).

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b), the same samples in the same order.
        kernel: ``"linear"`` or ``"rbf"``.
        sigma_multiple: RBF bandwidth ``sigma = sigma_multiple * median pairwise distance``,
            computed for each representation separately (ignored for the linear kernel).
        dtype: compute dtype, ``torch.float32`` or ``torch.float64``.

    Returns:
        float in [0, 1]; 1 for identical (up to rotation and scale) representations. 0 when a
        centred kernel is all zero.

    >>> x = torch.randn(100, 8, generator=torch.Generator().manual_seed(0))
    >>> q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1)))
    >>> round(cka(x, 3.0 * x @ q), 4)
    1.0
    """
    a, b = check_pair(a, b, dtype=dtype)
    return _pair_score(
        _cka_matrix(a, kernel, sigma_multiple),
        _cka_matrix(b, kernel, sigma_multiple),
        clip_negative=True,
    )


def rbf_cka(
    a: Any, b: Any, *, sigma_multiple: float = 1.0, dtype: torch.dtype = torch.float32
) -> float:
    """CKA with the RBF kernel: ``cka(a, b, kernel="rbf", sigma_multiple=...)``.

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b).
        sigma_multiple: bandwidth as a multiple of each representation's median pairwise
            Euclidean distance (off-diagonal); Kornblith et al. used fractions such as 0.2-0.8.
        dtype: compute dtype.

    Returns:
        float in [0, 1], larger is more similar.

    >>> x = torch.randn(60, 4, generator=torch.Generator().manual_seed(0))
    >>> round(rbf_cka(x, x + 5.0, sigma_multiple=0.5), 4)
    1.0
    """
    return cka(a, b, kernel="rbf", sigma_multiple=sigma_multiple, dtype=dtype)


def unbiased_cka(
    a: Any,
    b: Any,
    *,
    kernel: Kernel = "linear",
    sigma_multiple: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """CKA with the unbiased HSIC estimator of Song et al. (2012), in O(n^2).

    A negative cross HSIC (possible for the unbiased estimator on unrelated representations) is
    clipped to 0, as the paper's release does; the score is then in [0, 1]. A self-HSIC is a
    squared norm and never negative; when it is 0 the score is 0.

    Args:
        a: array of shape (n_samples, n_features_a), ``n_samples >= 4``.
        b: array of shape (n_samples, n_features_b), the same samples in the same order.
        kernel: ``"linear"`` (on centred features; the estimator is translation invariant, so
            this only improves rounding) or ``"rbf"``.
        sigma_multiple: RBF bandwidth multiple of the median distance.
        dtype: compute dtype.

    Returns:
        float in [0, 1]; 1 for identical (up to rotation and scale) representations.

    >>> x = torch.randn(100, 8, generator=torch.Generator().manual_seed(0))
    >>> round(unbiased_cka(x, -2.0 * x), 4)
    1.0
    """
    a, b = check_pair(a, b, dtype=dtype, min_samples=4, why="unbiased HSIC")
    return _pair_score(
        _ucka_matrix(a, kernel, sigma_multiple),
        _ucka_matrix(b, kernel, sigma_multiple),
        clip_negative=True,
    )
