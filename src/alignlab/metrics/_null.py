"""Shuffled pairings from the prepared per-layer matrices, without materialising shuffled stacks.

A shuffled pairing pairs sample ``r`` of A with sample ``p[r]`` of B, one permutation ``p`` for
all of B's layers. For prepared ``(n, n)`` matrices ``A_i`` (model A, layer i) and ``B_j`` the
shuffled numerator is ``<A_i, B_j[p][:, p]> = sum_rc A_i[r, c] B_j[p_r, p_c]``, which equals
``<A_i[q][:, q], B_j>`` with ``q = argsort(p)``: either side can be the one gathered. Norms do
not change under a permutation, so only these numerators are computed per permutation:

- :func:`dense_null_dots` (symmetric matrices: CKA's centred and U-centred kernels): the side
  with fewer layers is gathered, entry by entry, over the upper triangle only (the other side
  carries weight 2 off the diagonal), in blocks of rows so that the gather indices come from one
  broadcast add; each block is one batched product over permutations and the blocks are summed
  in float64. Per permutation: ``min(L1, L2) * n**2 / 2`` gathered values and
  ``L1 * L2 * n**2 / 2`` multiply-adds.
- :func:`sparse_null_dots` (few nonzeros per row: neighbour masks, masked Grams): only the
  nonzeros of the side with fewer layers are visited; each looks up its shuffled partner entry
  in all of the other side's layers at once. Per permutation: ``min(L1, L2) * nnz`` row gathers
  (``nnz = n k`` for kNN), independent of ``n**2``.

:func:`expected_dots` is the exact mean of the numerator over all ``n!`` permutations.
"""

from __future__ import annotations

import torch

BLOCK_ROWS = 8  # rows of the triangle per gather block (dense)
BLOCK_BYTES = 16 << 20  # gathered values per batched step, in bytes (both paths)


def permutations(n: int, count: int, seed: int, device: torch.device) -> torch.Tensor:
    """``count`` seeded permutations of ``range(n)``, one per row: ``(count, n)`` int64.

    Drawn one after the other by ``torch.randperm(n, generator=torch.Generator().manual_seed(
    seed))`` on the CPU, so a seed gives the same pairings on every device.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = [torch.randperm(n, generator=gen) for _ in range(count)]
    if not rows:
        return torch.empty((0, n), dtype=torch.int64, device=device)
    return torch.stack(rows).to(device)


def _orient(stack_a: torch.Tensor, stack_b: torch.Tensor, perms: torch.Tensor):
    """The side with fewer layers, the other side, the relabelling that gathers the first
    (``q = argsort(p)`` if it is A, ``p`` if it is B), and whether the first is B (results are
    then transposed to ``(P, L1, L2)``)."""
    if stack_a.shape[0] <= stack_b.shape[0]:
        return stack_a, stack_b, torch.argsort(perms, dim=1), False
    return stack_b, stack_a, perms, True


def dense_null_dots(
    stack_a: torch.Tensor, stack_b: torch.Tensor, perms: torch.Tensor
) -> torch.Tensor:
    """Shuffled numerators of symmetric matrices: ``(L1, n, n), (L2, n, n), (P, n)`` -> ``(P,
    L1, L2)`` float64, entry ``[t, i, j] = <A_i, B_j[p_t][:, p_t]>``.

    Extra memory: one transposed copy of the gathered side and the other side's upper triangle
    (``(min(L1, L2) + max(L1, L2) / 2) * n**2`` values) plus :data:`BLOCK_BYTES` of work space.
    """
    n = stack_a.shape[1]
    gathered, fixed, pis, swapped = _orient(stack_a, stack_b, perms)
    lg, lf = gathered.shape[0], fixed.shape[0]
    table = gathered.reshape(lg, n * n).T.contiguous()  # (n*n, lg): one row per entry
    rows_n, cols = pis * n, pis  # (P, n) int64 (faster in index_select than int32 here)
    starts = range(0, n, BLOCK_ROWS)
    packed = []  # per block: (h * (n - r0), lf), the block's rectangle rows r0:r1, cols r0:
    for r0 in starts:
        r1 = min(r0 + BLOCK_ROWS, n)
        rr = torch.arange(r0, r1, device=fixed.device)[:, None]
        cc = torch.arange(r0, n, device=fixed.device)[None, :]
        weight = (cc > rr).to(fixed.dtype) * 2 + (cc == rr).to(fixed.dtype)  # 2 / 1 / 0
        packed.append((fixed[:, r0:r1, r0:] * weight).reshape(lf, -1).T.contiguous())
    per_batch = max(1, BLOCK_BYTES // (BLOCK_ROWS * n * lg * table.element_size()))
    out = torch.empty((perms.shape[0], lg, lf), dtype=torch.float64, device=stack_a.device)
    for p0 in range(0, perms.shape[0], per_batch):
        p1 = min(p0 + per_batch, perms.shape[0])
        acc = torch.zeros((p1 - p0, lg, lf), dtype=torch.float64, device=stack_a.device)
        for r0, block in zip(starts, packed, strict=True):
            r1 = min(r0 + BLOCK_ROWS, n)
            idx = rows_n[p0:p1, r0:r1, None] + cols[p0:p1, None, r0:]  # (pb, h, n - r0)
            values = table.index_select(0, idx.reshape(-1)).view(p1 - p0, -1, lg)
            acc += torch.matmul(values.transpose(1, 2), block)  # (pb, lg, lf)
        out[p0:p1] = acc
    return out.transpose(1, 2) if swapped else out


def _nonzeros(stack: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nonzeros of each layer, padded with zeros: flat positions ``r * n + c`` as rows and
    columns ``(L, m)``, and values ``(L, m)`` (``m`` = the most nonzeros in one layer)."""
    n = stack.shape[1]
    flat = stack.reshape(stack.shape[0], -1)
    where = [torch.nonzero(row)[:, 0] for row in flat]
    m = max(1, max(w.numel() for w in where))
    pos = torch.zeros((len(where), m), dtype=torch.int64, device=stack.device)
    vals = torch.zeros((len(where), m), dtype=stack.dtype, device=stack.device)
    for i, w in enumerate(where):
        pos[i, : w.numel()] = w
        vals[i, : w.numel()] = flat[i, w]
    return pos // n, pos % n, vals


def sparse_null_dots(
    stack_a: torch.Tensor, stack_b: torch.Tensor, perms: torch.Tensor
) -> torch.Tensor:
    """Shuffled numerators of sparse matrices (any, not only symmetric): same shapes and
    meaning as :func:`dense_null_dots`, at a cost of ``min(L1, L2) * nnz`` lookups of
    ``max(L1, L2)`` values per permutation. Exact integers for 0/1 masks while ``nnz < 2**24``
    in float32 (the engine stores larger counts in float64)."""
    n = stack_a.shape[1]
    sparse, dense, _, swapped = _orient(stack_a, stack_b, perms)
    # the sparse side's entry (r, c) meets the dense side's (pi_r, pi_c): pi relabels the dense
    # side, p for B's entries and q = argsort(p) for A's
    pis = torch.argsort(perms, dim=1) if swapped else perms
    ls, ld = sparse.shape[0], dense.shape[0]
    rows, cols, vals = _nonzeros(sparse)  # (ls, m) each
    m = rows.shape[1]
    table = dense.reshape(ld, n * n).T.contiguous()  # (n*n, ld)
    per_batch = max(1, BLOCK_BYTES // (ls * m * ld * table.element_size()))
    out = torch.empty((perms.shape[0], ls, ld), dtype=torch.float64, device=stack_a.device)
    flat_rows, flat_cols = rows.reshape(-1), cols.reshape(-1)
    for p0 in range(0, perms.shape[0], per_batch):
        p1 = min(p0 + per_batch, perms.shape[0])
        part = pis[p0:p1]
        idx = part[:, flat_rows] * n + part[:, flat_cols]  # (pb, ls * m)
        looked = table.index_select(0, idx.reshape(-1)).view(p1 - p0, ls, m, ld)
        out[p0:p1] = torch.matmul(vals[None, :, None, :], looked)[:, :, 0, :]
    return out.transpose(1, 2) if swapped else out


def expected_dots(stack_a: torch.Tensor, stack_b: torch.Tensor) -> torch.Tensor:
    """Mean of ``<A_i, B_j[p][:, p]>`` over all ``n!`` permutations, exactly: ``(L1, L2)``.

    With ``t = tr`` and ``s`` = the sum of all entries: ``t_A t_B / n + (s_A - t_A)(s_B - t_B)
    / (n (n - 1))``, since a uniformly random ``p`` sends the diagonal to a uniform diagonal
    entry and an off-diagonal ``(r, c)`` to a uniform off-diagonal pair. Row sums in the
    stacks' dtype, the rest in float64.
    """
    n = stack_a.shape[1]

    def moments(stack: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tr = torch.diagonal(stack, dim1=1, dim2=2).sum(dim=1, dtype=torch.float64)  # (L,)
        total = stack.sum(dim=2).sum(dim=1, dtype=torch.float64)  # (L,)
        return tr, total

    ta, sa = moments(stack_a)
    tb, sb = moments(stack_b)
    return ta[:, None] * tb[None, :] / n + (sa - ta)[:, None] * (sb - tb)[None, :] / (n * (n - 1))
