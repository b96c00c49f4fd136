"""Streaming over blocks of samples gives the in-memory scores: counts exactly, CKA to 1e-6."""

import numpy as np
import pytest
import torch

import alignlab.metrics.engine as engine
from alignlab.metrics import align_layers
from alignlab.metrics._budget import parse_budget
from alignlab.metrics._stream import MIN_BLOCK_ROWS, stream_cost
from alignlab.metrics.knn import _knn_mask_from_sim, _neighbour_lists

N = 700  # blocks of 300 rows: 0-300, 300-600 and an overlapping last block 400-700
PARAMS = {"cka": {}, "unbiased_cka": {}, "mutual_knn": {"k": 10}, "cknna": {"k": 7}}
TOL = 1e-6  # CKA, unbiased CKA and CKNNA, float32, streamed against in memory


def model(seed, widths, n=N, offset=0.0, shared_seed=99):
    """Layers of widths ``widths`` (n, w) float32: a shared 4-dim latent (``shared_seed``) seen
    through random maps, plus noise and ``offset``."""
    rng = np.random.default_rng(seed)
    z = np.random.default_rng(shared_seed).normal(size=(n, 4))
    return [
        (z @ rng.normal(size=(4, w)) + rng.normal(size=(n, w)) + offset).astype(np.float32)
        for w in widths
    ]


A = model(0, (20, 50, 9))
B = model(1, (30, 40))
B_SHIFTED = model(1, (30, 40), offset=40.0)  # a mean far above the spread: centred first


@pytest.fixture
def block_sizes(monkeypatch):
    """Record the rows per block of every streamed call (and so that it streamed)."""
    seen = []
    real = engine.stream_scores

    def spy(a, b, metrics, perms, rows, tiles):
        seen.append(rows)
        assert not tiles  # streamed: complete rows
        return real(a, b, metrics, perms, rows, tiles)

    monkeypatch.setattr(engine, "stream_scores", spy)
    return seen


def _budget_for(metric, perms, b):
    """Bytes for blocks of 300 rows: less than the in-memory path needs."""
    widths = ([x.shape[1] for x in A], [x.shape[1] for x in b])
    per_row, fixed, _ = stream_cost(N, widths, {metric: PARAMS[metric]}, torch.float32, perms > 0)
    return fixed + 300 * per_row


@pytest.mark.parametrize("metric", list(PARAMS))
@pytest.mark.parametrize("perms", [0, 5])
@pytest.mark.parametrize("b", [B, B_SHIFTED], ids=["centred", "large-mean"])
def test_streaming_equals_in_memory(metric, perms, b, block_sizes):
    kw = dict(null_permutations=perms, null_mode="raw", seed=4, device="cpu", **PARAMS[metric])
    ref = align_layers(A, b, metric, **kw)
    got = align_layers(A, b, metric, memory_budget=_budget_for(metric, perms, b), **kw)
    assert block_sizes == [300]  # it streamed, in blocks of 300 rows
    check = np.testing.assert_array_equal if metric == "mutual_knn" else (
        lambda x, y: np.testing.assert_allclose(x, y, rtol=0, atol=TOL)
    )  # fmt: skip
    check(got.raw, ref.raw)
    if ref.chance is not None:
        np.testing.assert_allclose(got.chance, ref.chance, rtol=0, atol=TOL)
    else:
        assert got.chance is None
    if perms:
        check(got.null_scores, ref.null_scores)
        assert got.layer_max.p_value == ref.layer_max.p_value
        assert got.null_tie_tol == ref.null_tie_tol


def test_streaming_float64_and_subtract_mode(block_sizes):
    kw = dict(null_permutations=3, seed=1, dtype=torch.float64, device="cpu")
    ref = align_layers(A, B, "cka", **kw)
    got = align_layers(A, B, "cka", memory_budget="30MB", **kw)
    assert block_sizes
    np.testing.assert_allclose(got.matrix, ref.matrix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.null_std, ref.null_std, rtol=0, atol=1e-12)


def test_neighbour_lists_are_the_mask_sets_with_ties():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.integers(0, 3, size=(300, 2)).astype(np.float32))  # many ties
    g = x @ x.T
    for k in (1, 5, 40):
        mask = _knn_mask_from_sim(g, k)
        for r0, r1 in ((0, 300), (44, 300), (0, 256)):
            idx = _neighbour_lists(g[r0:r1].clone(), k, r0)
            rebuilt = torch.zeros((r1 - r0, 300), dtype=torch.bool).scatter_(1, idx, True)
            assert torch.equal(rebuilt, mask[r0:r1])


def test_row_blocks_of_a_product_round_as_the_full_product():
    """The assumption behind identical counts: BLAS computes rows r0:r1 of x @ x.T as the
    full product does, for blocks of MIN_BLOCK_ROWS rows or more (true of MKL on the CPU)."""
    g = torch.Generator().manual_seed(0)
    for dtype, d in ((torch.float32, 768), (torch.float64, 2000), (torch.float32, 3)):
        x = torch.randn(700, d, generator=g, dtype=dtype)
        full = x @ x.T
        for r0 in (0, 100, 700 - MIN_BLOCK_ROWS):
            assert torch.equal(x[r0 : r0 + MIN_BLOCK_ROWS] @ x.T, full[r0 : r0 + MIN_BLOCK_ROWS])


@pytest.mark.parametrize(
    ("budget", "expected"),
    [("2GB", 2 * 10**9), ("1.5GiB", int(1.5 * 2**30)), (4096, 4096), ("512 mb", 512 * 10**6)],
)
def test_budget_sizes(budget, expected):
    assert parse_budget(budget) == expected


@pytest.mark.parametrize("bad", ["lots", "-1GB", 0, "2 parsecs", True, float("nan")])
def test_bad_budget_is_one_clear_line(bad):
    with pytest.raises(ValueError, match=r"^memory_budget must be a positive number of bytes"):
        align_layers(A, B, "cka", memory_budget=bad)


def test_budget_below_one_block_and_unstreamable_metric():
    with pytest.raises(ValueError, match=r"below the smallest streaming block \(256 rows"):
        align_layers(A, B, "mutual_knn", k=5, memory_budget="1MB")
    with pytest.raises(ValueError, match=r"'rbf_cka' needs about .* no streaming path"):
        align_layers(A, B, "rbf_cka", memory_budget="1MB")
    align_layers(A, B, "svcca", memory_budget="1MB")  # no (n, n) matrix: fits any budget


def test_grouped_top_equals_topk_values_and_neighbour_sets():
    from alignlab.metrics.knn import _top

    g = torch.Generator().manual_seed(2)
    for n in (2048, 2100, 4096):
        sim = torch.randn(64, n, generator=g)
        sim[:3, :] = torch.round(sim[:3] * 2)  # rows full of ties
        vals, idx = _top(sim, 11)
        ref = sim.topk(11, dim=1)
        assert torch.equal(vals, ref.values)
        assert torch.equal(sim.gather(1, idx), vals)
        x = torch.randint(0, 4, (n, 3), generator=g).float()  # duplicate samples
        gram = x @ x.T
        idx = _neighbour_lists(gram[:300].clone(), 10, 0)
        rebuilt = torch.zeros((300, n), dtype=torch.bool).scatter_(1, idx, True)
        assert torch.equal(rebuilt, _knn_mask_from_sim(gram, 10)[:300])
