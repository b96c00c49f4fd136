"""All layer pairs over blocks of samples: no ``(n, n)`` matrix is ever stored whole.

For linear CKA, unbiased CKA, mutual kNN and CKNNA every pair's score is a cosine (or count)
of two prepared ``(n, n)`` matrices, and the inner product of two such matrices is the sum over
blocks of rows of the inner products of their blocks. So the engine walks the samples in blocks
of ``h`` rows: for each layer it computes the Gram rows ``x[r0:r1] @ x.T`` (``(h, n)``, the one
Gram of the layer, shared by every metric asked for), derives each metric's rows from them, and
adds the ``(L1, L2)`` inner products of the blocks, in float64, to running sums. Memory: about
``metrics * (L1 + L2) * h * n`` values instead of ``metrics * (L1 + L2) * n**2``.

What the rows need besides the Gram comes from the features, O(n d) per layer, never from a
stored ``(n, n)`` matrix: the centred kernel is ``G - w 1^T - 1 w^T`` with ``w_r = x_r . mu -
mu . mu / 2`` (float64; a layer whose mean is large against its spread, ``|mu|^2 > 16`` times
the mean squared norm of its centred rows, is centred first instead, which costs a second Gram
for it); the unbiased estimator's row sums ``K~ 1 = x_c (x_c^T 1) - diag`` and total come from
the centred features in float64; mutual kNN and CKNNA take their rows' neighbours from the
complete Gram rows, with the same tie rule as the in-memory path (on the CPU, for rows of fewer
than 2048 columns, from each row's k-th largest value by numpy's partition: half the time of
``topk``).

Blocks have at least :data:`MIN_BLOCK_ROWS` rows (the last block overlaps the one before rather
than being short), because BLAS rounds the entries of a product of very few rows differently
than the same entries of a full product; with 192 rows or more, MKL on the CPU computes every
entry of ``x[r0:r1] @ x.T`` bit for bit as ``x @ x.T`` does (checked for float32/64, widths 3 to
4096), so mutual kNN counts equal the in-memory path's exactly. cuBLAS makes no such promise:
on CUDA, neighbours at rounding-level ties may differ.

**Tiles.** When everything fits in memory and there is no null (the engine's in-memory case),
the pass walks only the upper block triangle of each Gram, in ``T`` row blocks ``R_i`` of
:data:`MIN_BLOCK_ROWS` rows or more: row block ``i`` computes ``x[R_i] @ x[R_i start:].T``,
the tiles on and right of the diagonal, ``(T + 1) / (2 T)`` of the Gram's multiply-adds in all
(5/8 for n = 1024 in blocks of 256). The centred and U-centred kernels are symmetric, so the
CKA-family inner products add the diagonal tiles once and the others twice. Mutual kNN and CKNNA
need complete rows: the tiles left of the diagonal are the transposes of tiles saved by the row
blocks above (at most about ``(L1 + L2) n^2 / 4`` values, counted in the budget); the traces
come from the diagonal tiles, and a layer's O(n) vectors are made just before its first tiles,
its features then in cache (the features' norm only where the spread along the mean does not
already clear the mean test). The mirror is exact where the row blocks are: MKL computes
``x @ x.T`` symmetric bit for bit, and each tile row block as the full product does (checked
in ``tests/metrics/test_tiles.py``).

**Shuffled pairings.** Mutual kNN and CKNNA keep each layer's ``n k`` neighbours and their
values (``(L, n, k)``); a shuffled pairing relabels B's lists and compares them with A's,
``L1 L2 n k^2`` comparisons per permutation, the same counts as the in-memory null, exactly.
CKA and unbiased CKA have no sparse form: each permutation recomputes, block by block, the Gram
rows of the model with the smaller total width, permuted, so a permutation costs that model's
Gram matrices once more (``n^2 * sum of its widths`` multiply-adds) plus the pair products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alignlab.metrics._budget import human
from alignlab.metrics._null import BLOCK_BYTES, dense_null_dots, sparse_null_dots
from alignlab.metrics._reduce import cosine_scores, pair_dots, self_dots_fast
from alignlab.metrics.knn import (
    GROUPED_FROM,
    _count_dtype,
    _knn_mask_from_sim,
    _neighbour_lists,
)

STREAMABLE = ("cka", "unbiased_cka", "mutual_knn", "cknna")
CKA_FAMILY = ("cka", "unbiased_cka")
MIN_BLOCK_ROWS = 256  # rows per block, at least (see the module docstring)
STACK_BYTES = 24 << 20  # a side's block stack without a null, at most (memory reused)
MEAN_RATIO = 16.0  # |mu|^2 / mean |x_c|^2 above which a layer is centred before its Gram
F64 = torch.float64


def streamable(metric: str, params: dict[str, Any]) -> bool:
    """Whether ``metric`` with ``params`` has a streaming path (linear kernels only)."""
    return metric in STREAMABLE and params.get("kernel", "linear") == "linear"


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
    mu = x.mean(dim=0)  # (d,), as the in-memory path centres
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


def block_rows(n: int, per_row: int, fixed: int, budget: int) -> int:
    """Rows per block that the budget affords, at least ``min(MIN_BLOCK_ROWS, n)``."""
    low = min(MIN_BLOCK_ROWS, n)
    rows = (budget - fixed) // max(per_row, 1)
    if rows < low:
        raise ValueError(
            f"memory_budget={human(budget)} is below the smallest streaming block ({low} rows "
            f"of all layers: {human(fixed + low * per_row)} for n={n}); raise memory_budget."
        )
    return int(min(rows, n))


def plan_rows(n, widths, metrics, dtype, null: bool, budget: int) -> tuple[int, bool]:
    """Rows per block and whether to walk the Gram's upper block triangle (tiles).

    ``n`` rows (one block, whose null uses the in-memory gathers) when there is a null and
    everything fits ``budget``; as many rows as the budget affords when it decides; and when
    everything would fit without a null, tiles in row blocks of :data:`STACK_BYTES` per side's
    stack (at least :data:`MIN_BLOCK_ROWS` rows), when the Gram tiles saved for the mirror fit
    too: they stay in the caches and the allocator reuses their memory from call to call, where
    one ``(L, n, n)`` stack takes fresh pages."""
    per_row, fixed, one_block = stream_cost(n, widths, metrics, dtype, null)
    if null and fixed + n * per_row + one_block <= budget:
        return n, False
    rows = block_rows(n, per_row, fixed, budget)
    if null or rows < n:
        return rows, False
    size = torch.empty((), dtype=dtype).element_size()
    cap = STACK_BYTES // max(1, max(len(widths[0]), len(widths[1])) * n * size)
    rows = min(n, max(MIN_BLOCK_ROWS, cap))  # all would fit: cache-sized blocks instead of one
    knn = any(m not in CKA_FAMILY for m in metrics)
    layers = len(widths[0]) + len(widths[1])
    saved = saved_tile_bytes(tile_bounds(n, rows), layers, size) if knn else 0
    return rows, fixed + n * per_row + saved <= budget


def stream_cost(n, widths, metrics, dtype, null) -> tuple[int, int, int]:
    """Bytes of :func:`stream_scores`: per block row, fixed, and the extra of the one-block
    (in-memory) null; for the budget."""
    size = torch.empty((), dtype=dtype).element_size()
    la, lb = len(widths[0]), len(widths[1])
    cka = sum(m in CKA_FAMILY for m in metrics)
    per_row = n * size * (cka * (la + lb) + 4)  # the stacks, one layer's work rows
    if null and cka:
        per_row += n * size * min(la, lb)  # the relabelled rows of the narrower model
    ks = [p["k"] for m, p in metrics.items() if m not in CKA_FAMILY]
    fixed = (la + lb) * n * sum(ks) * (8 + size) + 3 * n * max(max(widths[0]), max(widths[1])) * 8
    fixed += BLOCK_BYTES // 2 if null else 0
    one_block = 0
    if null:  # dense null copies; the masks and a table for the sparse null
        one_block = int(cka * (min(la, lb) + max(la, lb) / 2) * n * n * size)
        for m, p in metrics.items():
            if m not in CKA_FAMILY:
                count = _count_dtype(n, p["k"], dtype) if m == "mutual_knn" else dtype
                one_block += (la + lb + max(la, lb)) * n * n * torch.empty((), dtype=count).itemsize
        one_block += BLOCK_BYTES
    return per_row, fixed, one_block


def _orient_perm(fa, fb, perms):
    """The side whose Gram is recomputed per permutation (the narrower) and its relabelling."""
    if sum(f.x.shape[1] for f in fa) <= sum(f.x.shape[1] for f in fb):
        return "a", torch.argsort(perms, dim=1)
    return "b", perms


def _list_dots(lists_a, lists_b, perm: torch.Tensor | None, with_values: bool):
    """Neighbour overlaps ``(L1, L2)`` float64 (exact counts; ``with_values``: the CKNNA
    numerators) of both sides' neighbour lists ``(L, n, k)``, B relabelled by ``perm`` (a
    shuffled pairing: sample r of A with sample perm[r] of B) unless None.

    Per block of rows, B's neighbours (or values) are written into an ``(h n, L2)`` table,
    every neighbour of A reads its entry's row of all L2 layers, and the table is cleared
    again: ``(L1 + L2) n k`` writes and ``L1 n k`` row reads of L2 values."""
    (ia, va), (ib, vb) = lists_a, lists_b
    if perm is not None:
        ib = torch.argsort(perm)[ib[:, perm, :]]  # B relabelled: (lb, n, k)
        vb = vb[:, perm, :] if with_values else vb
    la, n, k = ia.shape
    lb, dev = ib.shape[0], ia.device
    dtype = va.dtype if with_values else torch.float32
    step = min(n, max(8, min((4 << 20) // (4 * n * lb), (4 << 20) // (4 * la * k * lb))))
    table = torch.zeros((step * n, lb), dtype=dtype, device=dev)
    out = torch.zeros((la, lb), dtype=F64, device=dev)
    cols = torch.arange(lb, device=dev)[:, None]  # (lb, 1)
    for r0 in range(0, n, step):
        r1 = min(r0 + step, n)
        base = torch.arange(r1 - r0, device=dev)[:, None] * n  # (h, 1): entry (r, c) at r n + c
        keys_b = (base + ib[:, r0:r1, :]).reshape(lb, -1)  # (lb, h k)
        where = (keys_b, cols.expand_as(keys_b))
        table[where] = vb[:, r0:r1, :].reshape(lb, -1) if with_values else 1.0
        looked = table.index_select(0, (base + ia[:, r0:r1, :]).reshape(-1))  # (la h k, lb)
        looked = looked.view(la, -1, lb)
        if with_values:
            looked = looked * va[:, r0:r1, :].reshape(la, -1, 1)
        out += looked.sum(dim=1, dtype=F64)
        table[where] = 0.0
    return out


def _scatter(lists, n: int, dtype: torch.dtype, values: bool) -> torch.Tensor:
    """Neighbour lists ``(L, n, k)`` as ``(L, n, n)`` masks (or masked values) for the sparse
    null of the in-memory path."""
    idx, val = lists
    out = torch.zeros((idx.shape[0], n, n), dtype=dtype, device=idx.device)
    src = val.to(dtype) if values else torch.ones(idx.shape, dtype=dtype, device=idx.device)
    return out.scatter_(2, idx, src)


def _layer_rows(lay: _Layer, r0: int, r1: int, metrics, ks, need_values, out, gbuf):
    """One layer's block: CKA-family rows ``{metric: (h, n)}`` (written into ``out[metric]``
    when given) and per k the neighbour lists ``(h, k)`` and CKNNA values ``(h, k)`` (None
    unless asked), from one Gram block (computed into ``gbuf``, ``(r1 - r0, n)``)."""
    g = torch.matmul(lay.x[r0:r1], lay.x.T, out=gbuf) if ks else None  # (h, n): shared Gram
    rows: dict[str, torch.Tensor] = {}
    if any(m in CKA_FAMILY for m in metrics):
        kc = _centred_rows(lay, g, r0, r1, None, out.get("cka"))
        if "cka" in metrics:
            rows["cka"] = kc
        if "unbiased_cka" in metrics:
            rows["unbiased_cka"] = _u_rows(lay, kc, r0, None, out.get("unbiased_cka"))
    return rows, _neighbours(g, r0, ks, need_values)


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


def stream_scores(
    a, b, metrics: dict[str, dict[str, Any]], perms: torch.Tensor, rows: int, tiles: bool = False
):
    """Per metric: raw scores ``(L1, L2)``, shuffled scores ``(P, L1, L2)`` (None without
    permutations) and the exact chance ``(L1, L2)`` (None for unbiased CKA), all float64 numpy,
    from blocks of ``rows`` samples (``rows = n``: one block, the in-memory form, whose null
    uses the in-memory gathers), or with ``tiles`` (no permutations) from the Gram's tiles on
    and right of the diagonal, in row blocks of ``rows`` samples or more. ``metrics`` maps
    names of :data:`STREAMABLE` to checked parameters; ``perms`` is ``(P, n)``."""
    n, dev, dtype = a[0].shape[0], a[0].device, a[0].dtype
    la, lb, n_perm = len(a), len(b), perms.shape[0]
    ks = sorted({p["k"] for m, p in metrics.items() if m not in CKA_FAMILY})
    sums = _empty_sums(metrics, ks, la, lb, n, n_perm, dtype, dev)
    if tiles and not n_perm:
        fa, fb = _tile_pass(a, b, metrics, ks, tile_bounds(n, rows), sums)
    else:
        fa = [_facts(x, metrics, bool(ks)) for x in a]
        fb = [_facts(x, metrics, bool(ks)) for x in b]
        _row_pass(fa, fb, metrics, ks, perms, rows, sums)
    out = {}
    for m, params in metrics.items():
        if m in CKA_FAMILY:
            norms, null = sums.norms[m], sums.null[m]
            out[m] = _cka_scores(m, n, sums.dots[m], norms, fa + fb, null, la, n_perm)
        else:
            k = params["k"]
            lists_a, lists_b = sums.lists[k, "a"], sums.lists[k, "b"]
            out[m] = _knn_scores(m, k, n, lists_a, lists_b, perms, rows == n, dtype)
    return out


def _row_pass(fa, fb, metrics, ks, perms, rows: int, sums: _Sums) -> None:
    """Blocks of ``rows`` complete Gram rows of every layer (the last block overlapping the
    one before), their shuffled pairings included, into ``sums``."""
    n, dtype, dev = fa[0].x.shape[0], fa[0].x.dtype, fa[0].x.device
    la, lb, n_perm = len(fa), len(fb), perms.shape[0]
    cka = [m for m in CKA_FAMILY if m in metrics]
    values = "cknna" in metrics
    side_p, relabel = _orient_perm(fa, fb, perms) if n_perm else ("a", perms)
    full = {m: (torch.empty((la, rows, n), dtype=dtype, device=dev),
                torch.empty((lb, rows, n), dtype=dtype, device=dev)) for m in cka}  # fmt: skip
    perm_buf = None
    gbuf = torch.empty((rows, n), dtype=dtype, device=dev) if ks else None  # Gram rows, reused
    done = 0  # the block buffers are allocated once: no second copy, no fresh pages per block
    while done < n:
        r1 = min(done + rows, n)
        r0 = r1 - rows  # the last block overlaps the one before: every block has `rows` rows
        fresh = done - r0  # rows r0:done were counted already
        h = r1 - done
        stacks = {m: (sa[:, :h], sb[:, :h]) for m, (sa, sb) in full.items()}  # (L, h, n) views
        for s, facts in (("a", fa), ("b", fb)):
            for li, lay in enumerate(facts):
                slots = {m: st[s == "b"][li] for m, st in stacks.items()} if not fresh else {}
                blk, lst = _layer_rows(lay, r0, r1, metrics, ks, values, slots, gbuf)
                for m, rows_m in blk.items():
                    if fresh:  # else written in place
                        stacks[m][s == "b"][li] = rows_m[fresh:]
                _store_lists(sums, s, li, done, r1, lst, fresh)
        for m, (sa, sb) in stacks.items():
            sums.add(m, sa, sb)
            if n_perm and rows == n:
                sums.null[m] = dense_null_dots(sa, sb, perms)
            elif n_perm:  # the narrower side's blocks again, relabelled, once per pairing
                facts, fixed = (fa, sb) if side_p == "a" else (fb, sa)
                if perm_buf is None:  # one buffer for the relabelled rows of every pairing
                    perm_buf = torch.empty((len(facts), rows, n), dtype=dtype, device=dev)
                for t in range(n_perm):
                    for li, lay in enumerate(facts):
                        perm_buf[li, :h] = _perm_rows(m, lay, r0, r1, relabel[t])[fresh:]
                    pd = pair_dots(perm_buf[:, :h], fixed)
                    sums.null[m][t] += pd if side_p == "a" else pd.T
        done = r1


def _store_lists(sums: _Sums, side: str, li: int, r0: int, r1: int, lists, skip: int = 0):
    """Neighbour lists ``(h, k)`` (and values) of rows ``r0:r1`` of layer ``li``, the first
    ``skip`` rows of the block dropped, into ``sums``."""
    for k, (idx, val) in lists.items():
        sums.lists[k, side][0][li, r0:r1] = idx[skip:]
        if val is not None:
            sums.lists[k, side][1][li, r0:r1] = val[skip:]


def tile_bounds(n: int, rows: int) -> list[int]:
    """Edges of ``max(1, n // rows)`` row blocks of near-equal size, each of ``rows`` or more."""
    t = max(1, n // rows)
    return [i * n // t for i in range(t + 1)]


def saved_tile_bytes(bounds: list[int], layers: int, size: int) -> int:
    """Most bytes of Gram tiles the tile pass holds for later row blocks (kNN metrics only)."""
    h = [b1 - b0 for b0, b1 in zip(bounds, bounds[1:], strict=False)]
    peak = max(sum(h[j] * h[c] for j in range(i + 1) for c in range(i + 1, len(h))) for i in
               range(len(h)))  # fmt: skip
    return layers * peak * size


def _tile_pass(a, b, metrics, ks, bounds: list[int], sums: _Sums):
    """The upper block triangle of every layer's Gram (module docstring), into ``sums``: per
    row block, each layer's CKA-family tiles on the diagonal (weight 1) and right of it
    (weight 2), and with kNN metrics the complete Gram rows for the neighbour lists. Returns
    both sides' :class:`_Layer` facts, made just before each layer's first tiles (its features
    are then in the cache for them)."""
    n, dtype, dev = a[0].shape[0], a[0].dtype, a[0].device
    cka = [m for m in CKA_FAMILY if m in metrics]
    values = "cknna" in metrics
    spans = list(zip(bounds, bounds[1:], strict=False))
    most = max((b1 - b0) * (n - b0) for b0, b1 in spans)  # values of a layer's tiles
    bufs = {(m, s): torch.empty(len(f) * most, dtype=dtype, device=dev)
            for m in cka for s, f in (("a", a), ("b", b))}  # fmt: skip
    gbuf = torch.empty(max(b1 - b0 for b0, b1 in spans) * n, dtype=dtype, device=dev)
    work = torch.empty_like(gbuf)  # for the neighbour selection
    saved: dict = {}  # (side, layer, j, c) -> Gram tile (c, j), (h_c, h_j), until row block c
    facts = {"a": [], "b": []}
    for i, (r0, r1) in enumerate(spans):
        tiles = {}
        for s, layers in (("a", a), ("b", b)):
            tiles[s] = {m: _split(bufs[m, s], len(layers), r1 - r0, n - r1) for m in cka}
            for li, x in enumerate(layers):
                if i == 0:
                    facts[s].append(_facts(x, metrics, bool(ks), trace=False))
                lay = facts[s][li]
                g = _mirrored_rows(lay, bounds, i, gbuf, saved, (s, li)) if ks else None
                if cka:
                    slots = {m: (d[li], o[li]) for m, (d, o) in tiles[s].items()}
                    _tile_layer(lay, g, r0, r1, slots)
                if ks:
                    _store_lists(sums, s, li, r0, r1, _neighbours(g, r0, ks, values, work))
        for m in cka:
            (da, oa), (db, ob) = tiles["a"][m], tiles["b"][m]
            sums.add(m, da, db)
            if r1 < n:
                sums.add(m, oa, ob, 2.0)
    return facts["a"], facts["b"]


def _split(buf: torch.Tensor, layers: int, h: int, wo: int):
    """Two contiguous stacks from a flat buffer: ``(L, h, h)`` and ``(L, h, wo)``."""
    cut = layers * h * h
    return buf[:cut].view(layers, h, h), buf[cut : cut + layers * h * wo].view(layers, h, wo)


def _mirrored_rows(lay: _Layer, bounds, i: int, buf: torch.Tensor, saved: dict, key):
    """Rows ``bounds[i]:bounds[i + 1]`` of the layer's Gram ``x x^T``, ``(h, n)``, in ``buf``:
    the tiles on and right of the diagonal computed, those left of it the transposes of tiles
    saved by earlier row blocks; the tiles right of the diagonal are saved for the row blocks
    below. (Only the kNN metrics need the rows left of the diagonal.)"""
    r0, r1 = bounds[i], bounds[i + 1]
    g = buf[: (r1 - r0) * bounds[-1]].view(r1 - r0, bounds[-1])
    torch.matmul(lay.x[r0:r1], lay.x[r0:].T, out=g[:, r0:])
    for j in range(i):
        g[:, bounds[j] : bounds[j + 1]] = saved.pop((*key, j, i))
    for c in range(i + 1, len(bounds) - 1):  # saved transposed: the rows of row block c
        saved[(*key, i, c)] = g[:, bounds[c] : bounds[c + 1]].T.contiguous()
    return g


def _tile_layer(lay: _Layer, g, r0: int, r1: int, out: dict) -> None:
    """One layer's CKA-family tiles of row block ``r0:r1``: ``out`` maps each metric to its
    ``(h, h)`` diagonal and ``(h, n - r1)`` off-diagonal tiles, written in place; from the
    Gram rows ``g`` when given and ``w`` is set, else from the centred features."""
    first = out.get("cka", out.get("unbiased_cka"))
    diag, off = first
    if g is None or lay.w is None:
        xc = lay.x[r0:] - lay.mu  # (n - r0, d): the rows from r0 on, centred
        h = r1 - r0
        torch.matmul(xc[:h], xc[:h].T, out=diag)
        torch.matmul(xc[:h], xc[h:].T, out=off)
    else:
        w = lay.w
        torch.sub(g[:, r0:r1], w[r0:r1, None], out=diag).sub_(w[None, r0:r1])
        torch.sub(g[:, r1:], w[r0:r1, None], out=off).sub_(w[None, r1:])
    lay.trace += float(diag.diagonal().sum())
    if "unbiased_cka" in out:
        for kc, u, c0 in zip(first, out["unbiased_cka"], (r0, r1), strict=True):
            _u_rows(lay, kc, r0, None, u, c0)


def _neighbours(g: torch.Tensor, r0: int, ks, values: bool, scratch=None) -> dict:
    """Per k the neighbour lists ``(h, k)`` of complete Gram rows ``g`` (``(h, n)``, rows from
    sample ``r0``; its diagonal becomes -inf) and their CKNNA values ``(h, k)`` (or None);
    ``scratch``: work space of ``h n`` values, or None for fresh memory."""
    if not ks:
        return {}
    rm = g.mean(dim=1, keepdim=True) if values else None  # (h, 1), before the -inf
    g.diagonal(offset=r0).fill_(float("-inf"))
    by_partition = g.device.type == "cpu" and g.shape[1] < GROUPED_FROM
    lists = {}
    for k in ks:
        idx = _partition_sets(g, k, r0, scratch) if by_partition else _neighbour_lists(g, k, r0)
        lists[k] = (idx, g.gather(1, idx) - rm if values else None)
    return lists


def _partition_sets(g: torch.Tensor, k: int, r0: int, scratch=None) -> torch.Tensor:
    """The neighbour lists ``(h, k)`` of :func:`_neighbour_lists` (the same sets, increasing
    column order) from CPU Gram rows ``(h, n)`` whose diagonal is -inf: numpy's partition, on
    a copy (in ``scratch`` of ``h n`` values or more, when given), finds each row's k-th
    largest value (in about half the time of ``topk``); the entries at or above it are the
    neighbours, unless a row has more (a tie at the k-th value), when the block takes the mask
    rule of :func:`alignlab.metrics.knn._knn_mask_from_sim`."""
    (h, n), a = g.shape, g.numpy()
    if scratch is None:
        part = a.copy()
    else:  # memory reused from block to block
        part = scratch[: h * n].view(h, n).numpy()
        np.copyto(part, a)
    part.partition(n - k, axis=1)
    kth = part[:, n - k : n - k + 1]  # (h, 1): the k-th largest
    flat = np.flatnonzero(a >= kth)  # at least k per row
    if flat.size > h * k:
        mask = _knn_mask_from_sim(g, k, overwrite=True, offset=r0)
        return mask.nonzero()[:, 1].view(h, k)
    return torch.from_numpy(flat.reshape(h, k) % n)


def _perm_rows(m: str, lay: _Layer, r0: int, r1: int, perm: torch.Tensor) -> torch.Tensor:
    kc = _centred_rows(lay, None, r0, r1, perm)
    return _u_rows(lay, kc, r0, perm) if m == "unbiased_cka" else kc


def _expected(n: int, tr_a, tr_b, sum_a, sum_b) -> torch.Tensor:
    """Exact mean inner product over all pairings, from traces and entry sums: ``(L1, L2)``."""
    out = tr_a[:, None] * tr_b[None, :] / n
    return out + (sum_a - tr_a)[:, None] * (sum_b - tr_b)[None, :] / (n * (n - 1))


def _np(t: torch.Tensor | None):
    return None if t is None else t.cpu().numpy()


def _cka_scores(m, n, dots, norms, facts, null_dots, la, n_perm):
    na, nb = norms

    def score(d):
        return cosine_scores(d, na, nb, clip_negative=True)

    tr = torch.tensor([f.trace for f in facts], dtype=F64, device=na.device)
    total = torch.zeros_like(tr)  # a centred kernel's entries sum to 0
    chance = None
    if m == "cka":
        chance = score(_expected(n, tr[:la], tr[la:], total[:la], total[la:]))
    return _np(score(dots)), _np(score(null_dots)) if n_perm else None, _np(chance)


def _knn_scores(m, k, n, lists_a, lists_b, perms, one_block, dtype):
    dots = _list_dots(lists_a, lists_b, None, m == "cknna")
    if m == "mutual_knn":

        def score(d):
            return d.round() / (n * k)

        raw = score(dots)
        chance = torch.full_like(raw, k / (n - 1))
    else:
        na = (lists_a[1].to(F64) ** 2).sum(dim=(1, 2))
        nb = (lists_b[1].to(F64) ** 2).sum(dim=(1, 2))

        def score(d):
            return cosine_scores(d, na, nb, clip_negative=False)

        raw = score(dots)
        sa, sb = lists_a[1].sum(dim=(1, 2), dtype=F64), lists_b[1].sum(dim=(1, 2), dtype=F64)
        chance = score(_expected(n, torch.zeros_like(sa), torch.zeros_like(sb), sa, sb))
    nulls = None
    if perms.shape[0] and one_block:  # the in-memory gathers, on masks rebuilt from the lists
        count = _count_dtype(n, k, dtype) if m == "mutual_knn" else dtype
        sa = _scatter(lists_a, n, count, m == "cknna")
        sb = _scatter(lists_b, n, count, m == "cknna")
        nulls = score(sparse_null_dots(sa, sb, perms))
    elif perms.shape[0]:  # B's lists relabelled: q[N_B(p_r)], for each pairing
        nulls = torch.stack([score(_list_dots(lists_a, lists_b, p, m == "cknna")) for p in perms])
    return _np(raw), _np(nulls), _np(chance)
