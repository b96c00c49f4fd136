"""Nearest-neighbour metrics: mutual kNN and CKNNA (Huh et al. 2024).

Neighbours are by inner product ``<x_i, x_j>`` of the features as given (L2-normalise first
for cosine neighbours), the sample itself excluded. **Ties** in the ranking are broken by lower
sample index first: the neighbours of ``i`` are the first ``k`` samples ``j != i`` in the order
of ``(-<x_i, x_j>, j)``, on the similarities as computed (``x @ x.T`` in the requested
dtype). Two implementations that rank the same similarity values with this rule agree exactly;
note that a matrix product may round equal inner products (say, of duplicate samples)
differently by an ulp depending on their position, which then decides the order instead.
Mutual kNN is computed from integer overlap counts. Features are first multiplied by the power
of two that brings their largest ``|x|`` near 1: exact, so rankings and ties are unchanged, and
features of size 1e18 or 1e-20 do not overflow or underflow the similarities.
"""

from __future__ import annotations

from typing import Any

import torch

from alignlab.metrics._reduce import cosine_scores, gram, pair_dots, rescale_pow2, self_dots
from alignlab.metrics._validation import as_representation, check_k, check_pair


def _knn_mask_from_sim(
    sim: torch.Tensor, k: int, *, overwrite: bool = False, offset: int = 0
) -> torch.Tensor:
    """``(b, n)`` similarities -> ``(b, n)`` bool mask of each row's k neighbours (not itself).

    Row ``r`` is sample ``offset + r`` (``b = n``, ``offset = 0``: the whole matrix; else a block
    of rows, as the streaming engine passes them). The k-th largest value of a row is its
    threshold: all larger entries are taken, then tied entries in increasing column order until
    the row has exactly k. With ``overwrite`` the self-similarities of ``sim`` itself are set to
    -inf (saves a copy when ``sim`` is not needed after).
    """
    sim = sim if overwrite else sim.clone()
    if offset == 0 and sim.shape[0] == sim.shape[1]:
        sim.fill_diagonal_(float("-inf"))
    else:
        ar = torch.arange(sim.shape[0], device=sim.device)
        sim[ar, ar + offset] = float("-inf")
    kth = sim.topk(k, dim=1).values[:, -1:]  # (n, 1): k-th largest, with multiplicity
    mask = sim >= kth  # (n, n); more than k in a row only where the k-th value is tied
    rows = (mask.sum(dim=1) > k).nonzero()[:, 0]
    if rows.numel():  # rare: resolve those rows' ties by lower index first
        s, t = sim[rows], kth[rows]
        tied = s == t
        need = k - (s > t).sum(dim=1, keepdim=True)  # tied entries still to take
        mask[rows] = (s > t) | (tied & (tied.cumsum(dim=1) <= need))
    return mask


GROUP = 16  # columns per group in :func:`_top`
GROUPED_FROM = 2048  # row length from which :func:`_top` beats one ``topk`` per row


def _top(sim: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``m`` largest values of each row of ``(b, n)`` and their columns, as ``topk`` (values
    exact, descending), in about a third of its time on long rows.

    Columns are dealt into ``c = n // GROUP`` groups (column ``j + t c`` into group ``j``); only
    the ``m`` groups with the largest maxima (and the ``n - c GROUP`` last columns) can hold the
    top ``m`` when the ``m``-th and ``(m+1)``-th group maxima differ: every other entry is below
    ``m`` entries. Rows where they tie take ``topk`` of the whole row.
    """
    b, n = sim.shape
    c = n // GROUP
    if c <= m:
        return sim.topk(m, dim=1)
    maxima = sim[:, : c * GROUP].view(b, GROUP, c).amax(dim=1)  # (b, c)
    top = maxima.topk(m + 1, dim=1)
    cols = top.indices[:, :m, None] + c * torch.arange(GROUP, device=sim.device)  # (b, m, G)
    cols = cols.reshape(b, -1)
    if n > c * GROUP:
        rest = torch.arange(c * GROUP, n, device=sim.device).expand(b, -1)
        cols = torch.cat([cols, rest], dim=1)
    vals, pos = sim.gather(1, cols).topk(m, dim=1)
    idx = cols.gather(1, pos)
    redo = (top.values[:, m - 1] == top.values[:, m]).nonzero()[:, 0]
    if redo.numel():
        vals[redo], idx[redo] = sim[redo].topk(m, dim=1)
    return vals, idx


def _neighbour_lists(sim: torch.Tensor, k: int, offset: int = 0) -> torch.Tensor:
    """``(b, n)`` similarities of samples ``offset, offset + 1, ...`` -> ``(b, k)`` int64: each
    row's k neighbours, the same sets as :func:`_knn_mask_from_sim` (order within a row
    unspecified). Overwrites the self-similarities of ``sim`` with -inf.

    One ``topk(k + 1)`` per row: where the k-th and (k+1)-th values differ the top k are the
    neighbours whatever order ``topk`` returns; the rare rows tied there take the mask rule.
    """
    b = sim.shape[0]
    ar = torch.arange(b, device=sim.device)
    sim[ar, ar + offset] = float("-inf")
    m = min(k + 1, sim.shape[1])
    vals, idx = _top(sim, m) if sim.shape[1] >= GROUPED_FROM else sim.topk(m, dim=1)
    out = idx[:, :k].clone()
    if vals.shape[1] > k:
        rows = (vals[:, k - 1] == vals[:, k]).nonzero()[:, 0]
        if rows.numel():
            s, t = sim[rows], vals[rows, k - 1 : k]
            tied = s == t
            need = k - (s > t).sum(dim=1, keepdim=True)
            mask = (s > t) | (tied & (tied.cumsum(dim=1) <= need))
            out[rows] = mask.nonzero()[:, 1].view(-1, k)
    return out


def _knn_mask(x: torch.Tensor, k: int) -> torch.Tensor:
    """Per-representation work of mutual kNN: the ``(n, n)`` bool neighbour mask.

    Overlap counts come from products of these masks as 0/1 floats; the counts are exact
    integers while ``n * k < 2**24`` in float32 (:func:`_count_dtype` switches to float64).
    """
    return _knn_mask_from_sim(gram(rescale_pow2(x)), k, overwrite=True)


def _count_dtype(n: int, k: int, dtype: torch.dtype) -> torch.dtype:
    """float32 sums of 0/1 products are exact integers up to 2**24; use float64 beyond."""
    return dtype if dtype == torch.float64 or n * k < 2**24 else torch.float64


def _cknna_matrix(x: torch.Tensor, k: int) -> torch.Tensor:
    """Per-representation work of CKNNA: ``mask * (K - row means of K)``, ``(n, n)``."""
    g = gram(rescale_pow2(x))  # (n, n)
    mask = _knn_mask_from_sim(g, k)
    return (g - g.mean(dim=1, keepdim=True)) * mask


def nearest_neighbors(x: Any, k: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Indices of each sample's ``k`` nearest neighbours by inner product, itself excluded.

    Args:
        x: array of shape (n_samples, n_features).
        k: number of neighbours, ``1 <= k < n_samples``.
        dtype: dtype the similarities are computed in.

    Returns:
        LongTensor of shape (n_samples, k): row ``i`` lists its neighbours by decreasing
        similarity; equal similarities are ordered (and cut) by lower index first.

    >>> x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> nearest_neighbors(x, 2).tolist()
    [[1, 2], [0, 2], [0, 1], [0, 1]]
    """
    x = as_representation(x, "x", dtype=dtype)
    k = check_k(k, x.shape[0])
    sim = gram(rescale_pow2(x))
    mask = _knn_mask_from_sim(sim, k)
    idx = mask.nonzero()[:, 1].reshape(-1, k)  # (n, k), increasing index within each row
    order = torch.sort(-sim.gather(1, idx), dim=1, stable=True).indices
    return idx.gather(1, order)


def mutual_knn(a: Any, b: Any, *, k: int, dtype: torch.dtype = torch.float32) -> float:
    """Mutual k-nearest-neighbour alignment: mean over samples of ``|N_a(i) & N_b(i)| / k``.

    Equal to the paper's ``ALIGN(Z1, Z2) / sqrt(ALIGN(Z1, Z1) ALIGN(Z2, Z2))`` (eq. 3-5), since
    each representation's own count is ``n k``. Larger is more similar; symmetric; invariant to
    orthogonal transforms and positive isotropic scaling, not to translation.

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b), the same samples in the same order.
        k: neighbours per sample, ``1 <= k < n_samples`` (the sample itself is excluded).
        dtype: dtype the similarities (and so the tie-breaks) are computed in.

    Returns:
        float in [0, 1]: the integer overlap count divided by ``n * k``; 1 when every sample has
        the same neighbours in both.

    >>> x = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    >>> mutual_knn(x, 2.0 * x, k=5)
    1.0
    """
    a, b = check_pair(a, b, dtype=dtype)
    n = a.shape[0]
    k = check_k(k, n)
    count = int((_knn_mask(a, k) & _knn_mask(b, k)).sum())
    return count / (n * k)


def cknna(a: Any, b: Any, *, k: int, dtype: torch.dtype = torch.float32) -> float:
    """Centred kernel nearest-neighbour alignment (CKNNA, Huh et al. 2024).

    CKA restricted to mutual-neighbour pairs. With ``K = a a^T``, ``L = b b^T`` centred by row
    means (``K_ij - mean_l K_il``), ``alpha_ij = 1`` when ``j != i`` is among the ``k``
    neighbours of ``i`` in both ``a`` and ``b``, and ``alpha^a``, ``alpha^b`` each side's own
    neighbour indicator::

        CKNNA = sum alpha K L / sqrt(sum alpha^a K^2 * sum alpha^b L^2)

    which, by Cauchy-Schwarz, lies in [-1, 1]. Neighbours and tie-breaks are those of
    :func:`mutual_knn`. (The PRH release instead applies the unbiased HSIC to the masked
    kernels; this form keeps the definition's bound and symmetry.)

    Args:
        a: array of shape (n_samples, n_features_a).
        b: array of shape (n_samples, n_features_b).
        k: neighbours per sample, ``1 <= k < n_samples``.
        dtype: compute dtype.

    Returns:
        float in [-1, 1], larger is more similar; 1 for identical representations.

    >>> x = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    >>> round(cknna(x, 3.0 * x, k=5), 4)
    1.0
    """
    a, b = check_pair(a, b, dtype=dtype)
    k = check_k(k, a.shape[0])
    pa, pb = _cknna_matrix(a, k)[None], _cknna_matrix(b, k)[None]  # (1, n, n)
    return float(
        cosine_scores(pair_dots(pa, pb), self_dots(pa), self_dots(pb), clip_negative=False)[0, 0]
    )
