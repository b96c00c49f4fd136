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

import torch

from alignlab.metrics._budget import human
from alignlab.metrics._null import BLOCK_BYTES
from alignlab.metrics._reduce import cosine_scores, pair_dots, self_dots
from alignlab.metrics.knn import _count_dtype, _knn_mask_from_sim

STREAMABLE = ("cka", "unbiased_cka", "mutual_knn", "cknna")
CKA_FAMILY = ("cka", "unbiased_cka")
MIN_BLOCK_ROWS = 256  # rows per block, at least (see the module docstring)
MEAN_RATIO = 16.0  # |mu|^2 / mean |x_c|^2 above which a layer is centred before its Gram


def streamable(metric: str, params: dict[str, Any]) -> bool:
    """Whether ``metric`` with ``params`` has a streaming path (linear kernels only)."""
    return metric in STREAMABLE and params.get("kernel", "linear") == "linear"


@dataclass
class _Layer:
    """One layer's features and the O(n) vectors its blocks need."""

    x: torch.Tensor  # (n, d), compute dtype
    mu: torch.Tensor  # (d,) column means, compute dtype
    w: torch.Tensor | None  # (n,) x_r . mu - mu . mu / 2; None: centre the features first
    rows: torch.Tensor  # (n,) row sums of the centred kernel, diagonal excluded
    total: float  # sum of rows
    trace: float  # trace of the centred kernel
    sum_all: float  # sum of all entries of the centred kernel


def _facts(x: torch.Tensor) -> _Layer:
    mu = x.mean(dim=0)  # (d,), as the in-memory path centres
    x64, mu64 = x.to(torch.float64), mu.to(torch.float64)
    xc = x64 - mu64  # (n, d) float64, one layer at a time
    sq = (xc * xc).sum(dim=1)  # (n,) diagonal of the centred kernel
    colsum = xc.sum(dim=0)  # (d,)
    rows = xc @ colsum - sq  # (n,) K~ 1
    ratio = float(mu64 @ mu64) / max(float(sq.mean()), 1e-300)
    w = None if ratio > MEAN_RATIO else (x64 @ mu64 - float(mu64 @ mu64) / 2).to(x.dtype)
    return _Layer(
        x, mu, w, rows.to(x.dtype), float(rows.sum()), float(sq.sum()), float(colsum @ colsum)
    )


def _gram_rows(lay: _Layer, r0: int, r1: int, perm: torch.Tensor | None, centred: bool):
    """Rows ``r0:r1`` of the (centred) Gram of the layer relabelled by ``perm``: ``(h, n)``."""
    x = lay.x - lay.mu if centred else lay.x
    g = (x[r0:r1] if perm is None else x[perm[r0:r1]]) @ x.T
    return g if perm is None else g[:, perm]


def _cka_rows(lay: _Layer, g: torch.Tensor | None, r0: int, r1: int, perm, unbiased: bool):
    """Rows of the centred kernel (``unbiased``: the U-centred kernel), ``(h, n)``."""
    if lay.w is None or g is None:
        kc = _gram_rows(lay, r0, r1, perm, centred=lay.w is None)
        if lay.w is not None:
            w = lay.w if perm is None else lay.w[perm]
            kc = kc - w[r0:r1, None] - w[None, :]
    else:
        w = lay.w if perm is None else lay.w[perm]
        kc = g - w[r0:r1, None] - w[None, :]
    if not unbiased:
        return kc
    n = kc.shape[1]
    rows = lay.rows if perm is None else lay.rows[perm]
    u = kc - rows[r0:r1, None] / (n - 2)
    u -= rows[None, :] / (n - 2)
    u += lay.total / ((n - 1) * (n - 2))
    ar = torch.arange(r1 - r0, device=u.device)
    u[ar, ar + r0] = 0.0
    return u


def _knn_rows(g: torch.Tensor, r0: int, k: int, cknna: bool):
    """Neighbour mask rows ``(h, n)`` bool and, for CKNNA, masked row-centred Gram rows."""
    c = (g - g.mean(dim=1, keepdim=True)) if cknna else None
    mask = _knn_mask_from_sim(g, k, offset=r0)
    if c is not None:
        c.mul_(mask)
    return mask, c


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


def stream_cost(n, widths, metrics, dtype, null) -> tuple[int, int]:
    """Bytes per block row and fixed bytes of :func:`stream_scores`, for the budget."""
    size = torch.empty((), dtype=dtype).element_size()
    la, lb = len(widths[0]), len(widths[1])
    stacks = 0
    for m, p in metrics.items():
        stacks += (
            torch.empty((), dtype=_count_dtype(n, p["k"], dtype)).element_size()
            if (m == "mutual_knn")
            else size
        )
    per_row = n * (stacks * (la + lb) + 6 * size)  # the stacks and one layer's work rows
    if null and any(m in CKA_FAMILY for m in metrics):
        per_row += n * size * min(la, lb) * 2
    ks = [p["k"] for m, p in metrics.items() if m not in CKA_FAMILY]
    fixed = 8 * n * (la + lb) * 4 + 3 * n * max(max(widths[0]), max(widths[1])) * 8
    if null and ks:
        fixed += (la + lb) * n * sum(ks) * 16 + BLOCK_BYTES // 2
    return per_row, fixed


def _orient_perm(fa, fb, perms):
    """The side whose Gram is recomputed per permutation (the narrower) and its relabelling."""
    if sum(f.x.shape[1] for f in fa) <= sum(f.x.shape[1] for f in fb):
        return "a", torch.argsort(perms, dim=1)
    return "b", perms


def stream_scores(
    a: list[torch.Tensor],
    b: list[torch.Tensor],
    metrics: dict[str, dict[str, Any]],
    perms: torch.Tensor,
    rows: int,
) -> dict[str, tuple[Any, Any, Any]]:
    """Per metric: raw scores ``(L1, L2)``, shuffled scores ``(P, L1, L2)`` (None without
    permutations) and the exact chance ``(L1, L2)`` (None for unbiased CKA), all float64 numpy,
    from blocks of ``rows`` samples. ``metrics`` maps names of :data:`STREAMABLE` to checked
    parameters; ``perms`` is ``(P, n)``."""
    n, dev, dtype = a[0].shape[0], a[0].device, a[0].dtype
    la, lb, n_perm = len(a), len(b), perms.shape[0]
    fa, fb = [_facts(x) for x in a], [_facts(x) for x in b]
    f64 = {"dtype": torch.float64, "device": dev}
    dots = {m: torch.zeros((la, lb), **f64) for m in metrics}
    norms = {m: (torch.zeros(la, **f64), torch.zeros(lb, **f64)) for m in metrics}
    sums = {m: (torch.zeros(la, **f64), torch.zeros(lb, **f64)) for m in metrics}  # CKNNA chance
    null_dots = {m: torch.zeros((n_perm, la, lb), **f64) for m in metrics if m in CKA_FAMILY}
    keep = n_perm > 0 and any(m not in CKA_FAMILY for m in metrics)
    ks = sorted({p["k"] for m, p in metrics.items() if m not in CKA_FAMILY})
    lists = {  # per k and side: neighbour indices (L, n, k) and CKNNA values (L, n, k)
        (k, s): (
            torch.empty((ln, n, k), dtype=torch.int64, device=dev),
            torch.zeros((ln, n, k), dtype=dtype, device=dev),
        )
        for k in ks
        for s, ln in (("a", la), ("b", lb))
        if keep
    }
    side_p, relabel = _orient_perm(fa, fb, perms) if n_perm else ("a", perms)
    done = 0
    while done < n:
        r1 = min(done + rows, n)
        r0 = r1 - rows  # the last block overlaps the one before: every block has `rows` rows
        fresh = done - r0  # rows r0:done were counted already
        blocks: dict[str, dict[str, torch.Tensor]] = {}
        for s, facts in (("a", fa), ("b", fb)):
            for li, lay in enumerate(facts):
                g = _gram_rows(lay, r0, r1, None, centred=False)  # (rows, n), the shared Gram
                out: dict[str, torch.Tensor] = {}
                for m in CKA_FAMILY:
                    if m in metrics:
                        out[m] = _cka_rows(lay, g, r0, r1, None, m == "unbiased_cka")
                for k in ks:
                    asked = [m for m, p in metrics.items() if m not in CKA_FAMILY and p["k"] == k]
                    mask, c = _knn_rows(g, r0, k, "cknna" in asked)
                    if "mutual_knn" in asked:
                        out["mutual_knn"] = mask.to(_count_dtype(n, k, dtype))
                    if c is not None:
                        out["cknna"] = c
                    if keep:
                        idx = mask[fresh:].nonzero()[:, 1].view(-1, k)  # (new rows, k)
                        lists[k, s][0][li, done:r1] = idx
                        if c is not None:
                            lists[k, s][1][li, done:r1] = c[fresh:].gather(1, idx)
                for m, rows_m in out.items():
                    stack = blocks.setdefault(m, {}).get(s)
                    if stack is None:
                        shape = (la if s == "a" else lb, r1 - done, n)
                        stack = blocks[m][s] = torch.empty(shape, dtype=rows_m.dtype, device=dev)
                    stack[li] = rows_m[fresh:]
                del g
        for m, sides in blocks.items():
            dots[m] += pair_dots(sides["a"], sides["b"])
            norms[m][0].add_(self_dots(sides["a"]))
            norms[m][1].add_(self_dots(sides["b"]))
            if m == "cknna":
                sums[m][0].add_(sides["a"].sum(dim=(1, 2), dtype=torch.float64))
                sums[m][1].add_(sides["b"].sum(dim=(1, 2), dtype=torch.float64))
        for m in null_dots:  # the narrower side's blocks again, relabelled, once per pairing
            facts, fixed = (fa, blocks[m]["b"]) if side_p == "a" else (fb, blocks[m]["a"])
            for t in range(n_perm):
                perm_rows = torch.stack(
                    [
                        _cka_rows(lay, None, r0, r1, relabel[t], m == "unbiased_cka")[fresh:]
                        for lay in facts
                    ]
                )
                pd = pair_dots(perm_rows, fixed)
                null_dots[m][t] += pd if side_p == "a" else pd.T
        done = r1
    return _finish(metrics, n, dots, norms, sums, null_dots, lists, perms, fa, fb)


def _list_null(lists_a, lists_b, perms: torch.Tensor, with_values: bool):
    """Shuffled neighbour overlaps ``(P, L1, L2)`` (exact counts) and, ``with_values``, the
    shuffled CKNNA numerators, from the neighbour lists of both sides."""
    (ia, va), (ib, vb) = lists_a, lists_b
    la, n, k = ia.shape
    lb = ib.shape[0]
    step = max(1, BLOCK_BYTES // (la * lb * k * k * 16))  # rows per comparison step
    counts = torch.zeros((perms.shape[0], la, lb), dtype=torch.float64, device=ia.device)
    values = torch.zeros_like(counts)
    for t, p in enumerate(perms):
        q = torch.argsort(p)
        sb, svb = q[ib[:, p, :]], vb[:, p, :]  # B relabelled: (lb, n, k)
        for r0 in range(0, n, step):
            r1 = min(r0 + step, n)
            eq = ia[:, None, r0:r1, :, None] == sb[None, :, r0:r1, None, :]  # (la, lb, h, k, k)
            counts[t] += eq.sum(dim=(2, 3, 4), dtype=torch.float64)
            if with_values:
                left = (eq * va[:, None, r0:r1, :, None]).sum(dim=3)  # (la, lb, h, k)
                values[t] += (left * svb[None, :, r0:r1, :]).sum(dim=(2, 3), dtype=torch.float64)
    return counts, values


def _finish(metrics, n, dots, norms, sums, null_dots, lists, perms, fa, fb):
    out = {}
    for m, params in metrics.items():
        na, nb = norms[m]
        if m == "mutual_knn":
            k = params["k"]

            def score(d, k=k):
                return d.round() / (n * k)

            chance = torch.full((len(fa), len(fb)), k / (n - 1), dtype=torch.float64)
        else:

            def score(d, na=na, nb=nb, m=m):
                return cosine_scores(d, na, nb, clip_negative=m != "cknna")

            if m == "cka":
                ta = torch.tensor([f.trace for f in fa], dtype=torch.float64, device=na.device)
                tb = torch.tensor([f.trace for f in fb], dtype=torch.float64, device=na.device)
                sa = torch.tensor([f.sum_all for f in fa], dtype=torch.float64, device=na.device)
                sb = torch.tensor([f.sum_all for f in fb], dtype=torch.float64, device=na.device)
            else:  # CKNNA: a zero diagonal
                ta, tb = torch.zeros_like(na), torch.zeros_like(nb)
                sa, sb = sums[m]
            expected = ta[:, None] * tb[None, :] / n
            expected += (sa - ta)[:, None] * (sb - tb)[None, :] / (n * (n - 1))
            chance = score(expected) if m != "unbiased_cka" else None
        nulls = None
        if perms.shape[0]:
            if m in null_dots:
                nulls = score(null_dots[m])
            else:
                k = params["k"]
                counts, values = _list_null(lists[k, "a"], lists[k, "b"], perms, m == "cknna")
                nulls = score(counts if m == "mutual_knn" else values)
        out[m] = (
            score(dots[m]).cpu().numpy(),
            None if nulls is None else nulls.cpu().numpy(),
            None if chance is None else chance.cpu().numpy(),
        )
    return out
