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
complete Gram rows, with the same tie rule as the in-memory path.

Blocks have at least :data:`MIN_BLOCK_ROWS` rows (the last block overlaps the one before rather
than being short), because BLAS rounds the entries of a product of very few rows differently
than the same entries of a full product; with 192 rows or more, MKL on the CPU computes every
entry of ``x[r0:r1] @ x.T`` bit for bit as ``x @ x.T`` does (checked for float32/64, widths 3 to
4096), so mutual kNN counts equal the in-memory path's exactly. cuBLAS makes no such promise:
on CUDA, neighbours at rounding-level ties may differ.

**Tiles** (the in-memory case: the upper block triangle of each Gram, the rest mirrored) are in
:mod:`alignlab.metrics._tiles`; the neighbour lists, their overlaps and the kNN-family scores in
:mod:`alignlab.metrics._lists`; a layer's O(n) facts, kernel rows and the running sums in
:mod:`alignlab.metrics._layer`.

**Shuffled pairings.** Mutual kNN and CKNNA relabel B's neighbour lists
(:mod:`alignlab.metrics._lists`). CKA and unbiased CKA have no sparse form: each permutation
recomputes, block by block, the Gram rows of the model with the smaller total width, permuted,
so a permutation costs that model's Gram matrices once more (``n^2 * sum of its widths``
multiply-adds) plus the pair products.
"""

from __future__ import annotations

from typing import Any

import torch

from alignlab.metrics._budget import human
from alignlab.metrics._layer import (
    CKA_FAMILY,
    F64,
    _centred_rows,
    _empty_sums,
    _facts,
    _Layer,
    _store_lists,
    _Sums,
    _u_rows,
)
from alignlab.metrics._lists import _expected, _knn_scores, _neighbours, _np
from alignlab.metrics._null import BLOCK_BYTES, dense_null_dots
from alignlab.metrics._reduce import cosine_scores, pair_dots
from alignlab.metrics._tiles import _tile_pass, saved_tile_bytes, tile_bounds
from alignlab.metrics.knn import _count_dtype

STREAMABLE = ("cka", "unbiased_cka", "mutual_knn", "cknna")
MIN_BLOCK_ROWS = 256  # rows per block, at least (see the module docstring)
STACK_BYTES = 24 << 20  # a side's block stack without a null, at most (memory reused)


def streamable(metric: str, params: dict[str, Any]) -> bool:
    """Whether ``metric`` with ``params`` has a streaming path (linear kernels only)."""
    return metric in STREAMABLE and params.get("kernel", "linear") == "linear"


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


def _perm_rows(m: str, lay: _Layer, r0: int, r1: int, perm: torch.Tensor) -> torch.Tensor:
    kc = _centred_rows(lay, None, r0, r1, perm)
    return _u_rows(lay, kc, r0, perm) if m == "unbiased_cka" else kc


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
