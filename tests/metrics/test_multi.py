"""Several metrics in one call equal separate calls, in memory and streamed; one Gram a layer."""

import numpy as np
import pytest
import torch

import alignlab.metrics._reduce as reduce
import alignlab.metrics._stream as stream
import alignlab.metrics.multi as multi
from alignlab.metrics import align_layers, align_layers_multi

N = 520
SHARED = {"mutual_knn": {"k": 10}, "cka": {}, "unbiased_cka": {}, "cknna": {"k": 6}}
TOL = 1e-6  # float32, CKA-like scores; mutual kNN counts are exact


def model(seed, widths, n=N):
    rng = np.random.default_rng(seed)
    z = np.random.default_rng(7).normal(size=(n, 3))
    return [(z @ rng.normal(size=(3, w)) + rng.normal(size=(n, w))).astype(np.float32)
            for w in widths]  # fmt: skip


A, B = model(0, (12, 30)), model(1, (25, 8, 16))


def check_same(got, ref, metric):
    if metric == "mutual_knn":
        np.testing.assert_array_equal(got.matrix, ref.matrix)
    else:
        np.testing.assert_allclose(got.matrix, ref.matrix, rtol=0, atol=TOL)
    assert (got.labels_a, got.labels_b, got.params) == (ref.labels_a, ref.labels_b, ref.params)
    assert got.preprocessing == ref.preprocessing and got.null_mode == ref.null_mode


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
@pytest.mark.parametrize("perms", [0, 4])
def test_multi_equals_separate_calls(streamed, perms, monkeypatch):
    specs = {**SHARED, "svcca": {}, "rbf_cka": {"sigma_multiple": 0.8}}
    kw = dict(null_permutations=perms, seed=3, device="cpu", normalize=True, clamp_q=0.99)
    budget = None
    if streamed:  # blocks of 300 rows; the unshared metrics would not fit
        specs = dict(SHARED)
        widths = ([x.shape[1] for x in A], [x.shape[1] for x in B])
        per_row, fixed, _ = stream.stream_cost(N, widths, specs, torch.float32, perms > 0)
        budget = fixed + 300 * per_row
    seen = []
    real = multi.stream_scores
    monkeypatch.setattr(multi, "stream_scores", lambda *a: seen.append(a[4]) or real(*a))
    res = align_layers_multi(A, B, specs, memory_budget=budget, **kw)
    assert seen == [300 if streamed else N]
    assert list(res) == list(specs)
    for metric, params in specs.items():
        ref = align_layers(A, B, metric, **kw, **params)
        check_same(res[metric], ref, metric)
        if perms:
            tol = 0 if metric == "mutual_knn" else TOL
            np.testing.assert_allclose(res[metric].null_scores, ref.null_scores, rtol=0, atol=tol)
            assert res[metric].layer_max.p_value == ref.layer_max.p_value


@pytest.mark.parametrize("tiles", [False, True], ids=["one-block", "tiles"])
def test_one_gram_per_layer_or_less(tiles, monkeypatch):
    """kNN, CKNNA, CKA and unbiased CKA together spend one Gram's multiply-adds per layer, and
    in row blocks of 260 (tiles of the upper block triangle) three quarters of one."""
    if tiles:
        monkeypatch.setattr(stream, "STACK_BYTES", 1)  # row blocks of 256 rows or more
    macs = []

    def counting(real):
        def product(self, other, **kw):
            if self.ndim == 2 and other.ndim == 2 and other.shape[1] >= 256:
                macs.append(self.shape[0] * self.shape[1] * other.shape[1])
            return real(self, other, **kw)

        return product

    monkeypatch.setattr(torch.Tensor, "__matmul__", counting(torch.Tensor.__matmul__))
    monkeypatch.setattr(torch, "matmul", counting(torch.matmul))
    align_layers_multi(A, B, SHARED, device="cpu")
    one = N * N * sum(x.shape[1] for x in A + B)  # n^2 d per layer
    assert sum(macs) == (one * 3 // 4 if tiles else one)
    assert reduce.gram is not None and stream.CKA_FAMILY  # the modules the spy stands in for


def test_metric_names_and_errors():
    res = align_layers_multi(A, B, ["cka", ("mutual_knn", {"k": 5})], device="cpu")
    assert list(res) == ["cka", "mutual_knn"] and res["mutual_knn"].params == {"k": 5}
    with pytest.raises(ValueError, match="unknown metric 'foo'"):
        align_layers_multi(A, B, {"foo": {}})
    with pytest.raises(ValueError, match="metrics must name one or more metrics"):
        align_layers_multi(A, B, {})
    with pytest.raises(ValueError, match="'mutual_knn' needs k"):
        align_layers_multi(A, B, ["mutual_knn"])
    with pytest.raises(ValueError, match="memory_budget must be a positive number"):
        align_layers_multi(A, B, ["cka"], memory_budget="big")
