"""One layer's O(n) facts, its centred and U-centred kernel rows, and a pass's running sums.

Shared by the row pass (:mod:`alignlab.metrics._stream`, whose docstring describes how the
rows come from the Gram and the features) and the tile pass (:mod:`alignlab.metrics._tiles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from alignlab.metrics._reduce import pair_dots, self_dots_fast

CKA_FAMILY = ("cka", "unbiased_cka")
MEAN_RATIO = 16.0  # |mu|^2 / mean |x_c|^2 above which a layer is centred before its Gram
F64 = torch.float64


@dataclass
class _Layer:
    """One layer's features and the O(n) vectors its blocks need."""

    x: torch.Tensor  # (n, d), compute dtype
    mu: torch.Tensor | None  # (d,) column means, compute dtype; None: no CKA-family metric
    w: torch.Tensor | None  # (n,) x_r . mu - mu . mu / 2; None: centre the features first
    rows: torch.Tensor | None  # (n,) row sums of the centred kernel, diagonal excluded
    total: float  # sum of rows
    trace: float  # trace of the centred kernel, sum_r |x_r - mu|^2 (its entries sum to 0)


def _facts(x: torch.Tensor, metrics, ks: bool, trace: bool = True) -> _Layer:
    """The O(n) vectors of a layer for the CKA-family metrics in ``metrics`` (none for kNN
    metrics alone): ``w`` when the centred kernel is to come from the Gram shared with kNN
    metrics (``ks``) and the mean is not too large for that; the unbiased estimator's row sums
    from the centred features, float64; the trace when ``trace`` (else 0: the tile pass sums
    it from its diagonal tiles)."""
    if not any(m in CKA_FAMILY for m in metrics):
        return _Layer(x, None, None, None, 0.0, 0.0)
    ones = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    mu = torch.mv(x.T, ones).div_(x.shape[0])  # (d,) column means: a product, faster than mean
    rows, total = None, 0.0
    mm = float(mu.to(F64) @ mu.to(F64))
    w, tr = _shift(x, mu, mm) if ks else (None, None)
    if trace and tr is None:
        tr = _trace(x, mm)
    if "unbiased_cka" in metrics:
        xc = x.to(F64) - mu.to(F64)  # (n, d) float64, one layer at a time
        r64 = xc @ xc.sum(dim=0) - (xc * xc).sum(dim=1)  # (n,) K~ 1 = x_c x_c^T 1 - diag
        rows, total = r64.to(x.dtype), float(r64.sum())
    return _Layer(x, mu, w, rows, total, tr if trace else 0.0)


def _trace(x: torch.Tensor, mm: float) -> float:
    """``sum_r |x_r - mu|^2`` of ``(n, d)`` features whose mean has squared norm ``mm``."""
    return float(torch.linalg.vector_norm(x)) ** 2 - x.shape[0] * mm


def _shift(x: torch.Tensor, mu: torch.Tensor, mm: float) -> tuple[torch.Tensor | None, Any]:
    """``w = x mu - mm / 2`` ``(n,)``, or None where the mean is large against the spread
    (``mm > MEAN_RATIO * trace / n``), and the trace where it had to be computed (else None).

    The spread along the mean, ``sum_r ((x_r - mu) . mu)^2 / mm``, is at most the trace: when
    it alone clears the bound (features centred or nearly), the trace's pass is saved."""
    n = x.shape[0]
    xm = torch.mv(x, mu).to(F64)  # (n,) x_r . mu
    if mm * mm * n <= MEAN_RATIO * float(((xm - mm) ** 2).sum()):
        return (xm - mm / 2).to(x.dtype), None
    tr = _trace(x, mm)
    large = mm > MEAN_RATIO * max(tr / n, 1e-300)
    return (None if large else (xm - mm / 2).to(x.dtype)), tr


def _centred_rows(lay: _Layer, g, r0: int, r1: int, perm: torch.Tensor | None, out=None):
    """Rows ``r0:r1`` of the centred kernel of the layer relabelled by ``perm``, ``(h, n)``,
    from the shared Gram rows ``g`` when given (into ``out`` when given)."""
    if lay.w is None:
        x = lay.x - lay.mu  # the centred features: one copy per block, 1/h of its Gram's cost
    else:
        x = lay.x
    if g is None or lay.w is None:
        src = x[r0:r1] if perm is None else x[perm[r0:r1]]
        if lay.w is None and perm is None:
            return torch.matmul(src, x.T, out=out) if out is not None else src @ x.T
        g = src @ x.T
        g = g if perm is None else g[:, perm]
        if lay.w is None:
            return g
    w = lay.w if perm is None else lay.w[perm]
    kc = torch.sub(g, w[r0:r1, None], out=out) if out is not None else g - w[r0:r1, None]
    kc -= w[None, :]
    return kc


def _u_rows(lay: _Layer, kc: torch.Tensor, r0: int, perm: torch.Tensor | None, out=None, c0=0):
    """Entries ``[r0:r0 + h, c0:c0 + w]`` of the U-centred kernel from the centred kernel's,
    ``kc`` of shape ``(h, w)`` (into ``out``, which may be ``kc``)."""
    (h, w), n = kc.shape, lay.x.shape[0]
    rows = lay.rows if perm is None else lay.rows[perm]
    shift = rows[r0 : r0 + h, None] / (n - 2)
    u = torch.sub(kc, shift, out=out) if out is not None else kc - shift
    u -= rows[None, c0 : c0 + w] / (n - 2)
    u += lay.total / ((n - 1) * (n - 2))
    on = torch.arange(max(r0, c0), min(r0 + h, c0 + w), device=u.device)  # diagonal entries
    u[on - r0, on - c0] = 0.0
    return u


@dataclass
class _Sums:
    """What a pass adds up. Per CKA-family metric: the pair dots ``(L1, L2)``, the norms
    ``((L1,), (L2,))`` and the shuffled dots ``(P, L1, L2)``, float64; per ``(k, side)``: the
    neighbour lists ``(L, n, k)`` int64 and their CKNNA values (``(L, n, k)``, else ``(L, 1,
    1)``)."""

    dots: dict
    norms: dict
    null: dict
    lists: dict

    def add(self, m: str, sa: torch.Tensor, sb: torch.Tensor, weight: float = 1.0) -> None:
        """Add ``weight`` times the inner products of blocks ``(L1, ...)`` and ``(L2, ...)``."""
        self.dots[m].add_(pair_dots(sa, sb), alpha=weight)
        self.norms[m][0].add_(self_dots_fast(sa), alpha=weight)
        self.norms[m][1].add_(self_dots_fast(sb), alpha=weight)


def _empty_sums(metrics, ks, la, lb, n, n_perm, dtype, dev) -> _Sums:
    cka = [m for m in CKA_FAMILY if m in metrics]
    values = "cknna" in metrics

    def zeros(*shape, dt=F64):
        return torch.zeros(shape, dtype=dt, device=dev)

    return _Sums(
        dots={m: zeros(la, lb) for m in cka},
        norms={m: (zeros(la), zeros(lb)) for m in cka},
        null={m: zeros(n_perm, la, lb) for m in cka},
        lists={
            (k, s): (torch.empty((ln, n, k), dtype=torch.int64, device=dev),
                     zeros(*((ln, n, k) if values else (ln, 1, 1)), dt=dtype))
            for k in ks for s, ln in (("a", la), ("b", lb))
        },
    )  # fmt: skip


def _store_lists(sums: _Sums, side: str, li: int, r0: int, r1: int, lists, skip: int = 0):
    """Neighbour lists ``(h, k)`` (and values) of rows ``r0:r1`` of layer ``li``, the first
    ``skip`` rows of the block dropped, into ``sums``."""
    for k, (idx, val) in lists.items():
        sums.lists[k, side][0][li, r0:r1] = idx[skip:]
        if val is not None:
            sums.lists[k, side][1][li, r0:r1] = val[skip:]
