"""The Gram's upper block triangle, mirrored: the in-memory scores, mutual kNN counts exactly."""

import numpy as np
import pytest
import torch

import alignlab.metrics._stream as stream
import alignlab.metrics.multi as multi
from alignlab.metrics import align_layers, align_layers_multi, cka, mutual_knn
from alignlab.metrics._layer import F64, _shift, _trace
from alignlab.metrics._lists import SPAN, _grouped_sets, _neighbours, _partition_sets
from alignlab.metrics._stream import MIN_BLOCK_ROWS, plan_rows, stream_cost
from alignlab.metrics._tiles import tile_bounds
from alignlab.metrics.knn import _knn_mask_from_sim

from .test_stream import model as stream_model

N = 1100  # row blocks of 256 rows or more: four of 275
SHARED = {"cka": {}, "unbiased_cka": {}, "mutual_knn": {"k": 10}, "cknna": {"k": 7}}
TOL = 1e-6  # CKA, unbiased CKA, CKNNA in float32


def model(seed, widths, n=N, offset=0.0):
    return stream_model(seed, widths, n, offset, shared_seed=5)


A = model(0, (20, 64, 9))
TIES = np.random.default_rng(2).integers(0, 3, size=(N, 4)).astype(np.float32)  # many ties
ISOTROPIC = np.random.default_rng(6).normal(size=(N, 64)).astype(np.float32) + 1.0
MEANS = model(3, (7,), offset=40.0) + [ISOTROPIC]  # a mean large, and moderate, against the spread
B = model(1, (30, 11)) + MEANS + [TIES]


@pytest.fixture
def tiled(monkeypatch):
    """Tiles of 256 rows or more (whatever the widths) and a record of each call's plan."""
    monkeypatch.setattr(stream, "STACK_BYTES", 1)
    seen = []
    real = multi.stream_scores
    monkeypatch.setattr(multi, "stream_scores", lambda *a: seen.append(a[4:]) or real(*a))
    return seen


def test_tiles_equal_the_in_memory_scores(tiled):
    res = align_layers_multi(A, B, SHARED, device="cpu")
    assert tiled == [(256, True)] and len(tile_bounds(N, 256)) == 5
    for metric, params in SHARED.items():
        ref = align_layers(A, B, metric, device="cpu", **params)  # the (n, n) stacks
        if metric == "mutual_knn":
            np.testing.assert_array_equal(res[metric].matrix, ref.matrix)
        else:
            np.testing.assert_allclose(res[metric].matrix, ref.matrix, rtol=0, atol=TOL)
        if ref.chance is not None:
            np.testing.assert_allclose(res[metric].chance, ref.chance, rtol=0, atol=TOL)


def test_tiles_agree_with_the_single_pair_functions(tiled):
    res = align_layers_multi(A, B, {"mutual_knn": {"k": 5}, "cka": {}}, device="cpu")
    assert tiled == [(256, True)]
    for i, j in ((0, 0), (1, 2), (2, 3)):
        assert res["mutual_knn"].matrix[i, j] == mutual_knn(A[i], B[j], k=5)
        assert abs(res["cka"].matrix[i, j] - cka(A[i], B[j])) < TOL


def test_tiles_without_knn_and_in_float64(tiled):
    res = align_layers_multi(A, B, ["cka", "unbiased_cka"], device="cpu", dtype=torch.float64)
    assert tiled == [(256, True)]
    for metric in ("cka", "unbiased_cka"):
        ref = align_layers(A, B, metric, device="cpu", dtype=torch.float64)
        np.testing.assert_allclose(res[metric].matrix, ref.matrix, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("dtype", "d"), [(torch.float32, 768), (torch.float32, 3),
                                          (torch.float64, 1000)])  # fmt: skip
def test_gram_tiles_round_as_the_full_product(dtype, d):
    """The assumptions behind identical counts (true of MKL on the CPU): ``x @ x.T`` is
    symmetric bit for bit, and each row block right of the diagonal, computed into its place
    in a row buffer as the tile pass does, equals the full product's entries."""
    x = torch.randn(N, d, generator=torch.Generator().manual_seed(1), dtype=dtype) + 0.5
    full = x @ x.T
    assert torch.equal(full, full.T)
    bounds = tile_bounds(N, MIN_BLOCK_ROWS)
    for r0, r1 in zip(bounds, bounds[1:], strict=False):
        g = torch.zeros((r1 - r0, N), dtype=dtype)
        torch.matmul(x[r0:r1], x[r0:].T, out=g[:, r0:])
        assert torch.equal(g[:, r0:], full[r0:r1, r0:])


def test_plan_takes_tiles_without_a_null_when_the_saved_tiles_fit():
    widths, f32 = ([768] * 12, [1024] * 24), torch.float32
    specs = {"mutual_knn": {"k": 10}, "cka": {}}
    assert plan_rows(1024, widths, specs, f32, False, 10**10) == (256, True)
    assert plan_rows(1024, widths, specs, f32, True, 10**10) == (1024, False)
    per_row, fixed, _ = stream_cost(1024, widths, specs, f32, False)
    assert plan_rows(1024, widths, specs, f32, False, fixed + 1024 * per_row) == (256, False)
    assert plan_rows(1024, widths, {"cka": {}}, f32, False, fixed + 1024 * per_row)[1]


@pytest.mark.parametrize("k", [1, 5, 40])
def test_partition_sets_are_the_mask_sets(k):
    """Rows by numpy's partition: the neighbour sets of the mask rule, ties included."""
    gen = torch.Generator().manual_seed(4)
    for x in (torch.randn(600, 20, generator=gen), torch.randint(0, 3, (600, 2), generator=gen)):
        g = x.float() @ x.float().T
        mask = _knn_mask_from_sim(g, k)
        for r0 in (0, 300):
            block = g[r0 : r0 + 300].clone()
            block.diagonal(offset=r0).fill_(float("-inf"))
            idx = _partition_sets(block, k, r0, torch.empty(block.numel() + 5))
            rebuilt = torch.zeros((300, 600), dtype=torch.bool).scatter_(1, idx, True)
            assert torch.equal(rebuilt, mask[r0 : r0 + 300])


@pytest.mark.parametrize(("n", "k"), [(1024, 10), (1003, 10), (600, 18), (4100, 1)])
def test_grouped_candidates_give_the_mask_sets(n, k):
    """Candidates from the groups with the largest maxima (the last n mod SPAN columns always
    among them): the mask rule's sets, in increasing column order, where the rows are long
    enough; None for shorter rows, and the whole-row rule then."""
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, 16, generator=gen) @ torch.randn(16, 48, generator=gen)
    x += 0.3 * torch.randn(n, 48, generator=gen)
    g = x @ x.T
    mask = _knn_mask_from_sim(g, k)
    r0 = n - 300
    block = g[r0:].clone()
    block.diagonal(offset=r0).fill_(float("-inf"))
    idx = _grouped_sets(block, k)
    assert idx is not None and idx.dtype == torch.int64
    assert torch.equal(idx, idx.sort(dim=1).values)
    rebuilt = torch.zeros((300, n), dtype=torch.bool).scatter_(1, idx, True)
    assert torch.equal(rebuilt, mask[r0:])
    assert _grouped_sets(block, n // (4 * SPAN) + 1) is None  # too short for candidates


def test_grouped_candidates_leave_ties_to_the_whole_row_rule():
    """A tie at the k-th group maximum, or at the k-th value inside a top group, gives None;
    the neighbour lists then come from the whole rows, by the mask rule."""
    k, n = 2, 4 * SPAN * 2
    c = n // SPAN
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    row = torch.linspace(-1.0, 0.0, n)[order]  # distinct values below the planted ones
    at_maxima = row.clone()
    at_maxima[[0, 1, 2]] = torch.tensor([3.0, 2.0, 2.0])  # three groups, maxima 3, 2, 2
    in_group = row.clone()
    in_group[[0, c, 2 * c]] = torch.tensor([3.0, 2.0, 2.0])  # one group holds 3, 2, 2
    for r in (at_maxima, in_group):
        sim = torch.stack([r, r + 1.0])  # (2, n): the rows of the last two samples
        sim.diagonal(offset=n - 2).fill_(float("-inf"))
        assert _grouped_sets(sim.clone(), k) is None
        want = _knn_mask_from_sim(sim.clone(), k, offset=n - 2)
        lists = _neighbours(sim.clone(), n - 2, [k], values=False)[k][0]
        rebuilt = torch.zeros_like(want).scatter_(1, lists, True)
        assert torch.equal(rebuilt, want)


def test_the_mean_test_saves_the_trace_only_when_its_bound_decides():
    """w comes from the shared Gram unless the mean is large against the spread; the spread
    along the mean (a lower bound of the trace) decides alone for nearly centred features."""
    for x, w_set, traced in ((A[0], True, False), (MEANS[0], False, True), (MEANS[1], True, True)):
        x = torch.from_numpy(x)
        mu = x.mean(dim=0)
        mm = float(mu.to(F64) @ mu.to(F64))
        w, tr = _shift(x, mu, mm)
        assert (w is not None, tr is not None) == (w_set, traced)
        if w is not None:
            torch.testing.assert_close(w, x @ mu - mm / 2, rtol=0, atol=1e-4)
        if traced:
            centred = float(((x.double() - mu.double()) ** 2).sum())
            assert tr == _trace(x, mm) == pytest.approx(centred, rel=1e-3)
