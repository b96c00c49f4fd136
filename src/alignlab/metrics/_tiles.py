"""The tile pass: the upper block triangle of each layer's Gram, the rest mirrored.

When everything fits in memory and there is no null (the engine's in-memory case), the pass
walks only the upper block triangle of each Gram, in ``T`` row blocks ``R_i`` of
:data:`~alignlab.metrics._stream.MIN_BLOCK_ROWS` rows or more: row block ``i`` computes
``x[R_i] @ x[R_i start:].T``, the tiles on and right of the diagonal, ``(T + 1) / (2 T)`` of the
Gram's multiply-adds in all (5/8 for n = 1024 in blocks of 256). The centred and U-centred
kernels are symmetric, so the CKA-family inner products add the diagonal tiles once and the
others twice. Mutual kNN and CKNNA need complete rows: the tiles left of the diagonal are the
transposes of tiles saved by the row blocks above (at most about ``(L1 + L2) n^2 / 4`` values,
counted in the budget); the traces come from the diagonal tiles, and a layer's O(n) vectors are
made just before its first tiles, its features then in cache (the features' norm only where the
spread along the mean does not already clear the mean test). The mirror is exact where the row
blocks are: MKL computes ``x @ x.T`` symmetric bit for bit, and each tile row block as the full
product does (checked in ``tests/metrics/test_tiles.py``).
"""

from __future__ import annotations

import torch

from alignlab.metrics._layer import CKA_FAMILY, _facts, _Layer, _store_lists, _Sums, _u_rows
from alignlab.metrics._lists import _neighbours


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
