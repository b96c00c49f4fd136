"""Permutation nulls: the engine's shuffled scores equal the metric on shuffled data, the closed
forms equal the mean over all n! pairings, and the layer-maximum summary is the add-one rule."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

from alignlab.metrics import (
    LayerMaxNull,
    align_layers,
    chance_level,
    get_metric,
    list_metrics,
    mutual_knn,
)

PARAMS = {
    "cka": {},
    "rbf_cka": {"sigma_multiple": 0.8},
    "unbiased_cka": {},
    "mutual_knn": {"k": 4},
    "cknna": {"k": 5},
    "svcca": {"keep_variance": 0.95},
}


def model(seed, widths, n, z):
    rng = np.random.default_rng(seed)
    return [z @ rng.normal(size=(z.shape[1], w)) + rng.normal(size=(n, w)) for w in widths]


def plain_null(metric, a, b, perms):
    """Shuffled scores one pair at a time: the single-pair function on B's rows permuted."""
    fn = get_metric(metric).fn
    return np.array(
        [
            [[fn(x, y[p], dtype=torch.float64, **PARAMS[metric]) for y in b] for x in a]
            for p in perms
        ]
    )  # (P, L1, L2)


# ---- the engine's shuffled pairings are the metric on shuffled data ------------------------
@pytest.mark.parametrize("metric", list_metrics())
@pytest.mark.parametrize("widths", [((5, 3), (4, 6, 2)), ((5, 3, 7), (4, 6))])  # both sides
def test_null_equals_metric_on_shuffled_samples(metric, widths):
    n = 37  # not a multiple of the dense path's block of rows
    z = np.random.default_rng(3).normal(size=(n, 2))
    a, b = model(1, widths[0], n, z), model(2, widths[1], n, z)
    res = align_layers(
        a,
        b,
        metric,
        null_permutations=6,
        seed=5,
        dtype=torch.float64,
        null_mode="raw",
        device="cpu",
        **PARAMS[metric],
    )
    gen = torch.Generator().manual_seed(5)
    perms = [torch.randperm(n, generator=gen).numpy() for _ in range(6)]
    null = plain_null(metric, a, b, perms)
    exact = metric == "mutual_knn"  # integer counts: the same bits
    check = (
        np.testing.assert_array_equal
        if exact
        else (lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12))
    )
    check(res.null_mean, null.mean(0))
    check(res.layer_max.null_maxima, null.reshape(6, -1).max(1))
    np.testing.assert_array_equal(res.matrix, res.raw)  # "raw": calibration only reported
    assert res.layer_max.best == res.raw.max() and res.null_permutations == 6


@pytest.mark.parametrize("metric", ["cka", "mutual_knn"])
def test_null_float32_agrees_with_float64(metric):
    n = 64
    z = np.random.default_rng(0).normal(size=(n, 3))
    a, b = model(4, (6, 8), n, z), model(5, (7, 5, 9), n, z)
    kw = dict(null_permutations=8, seed=2, device="cpu", **PARAMS[metric])
    r32 = align_layers(a, b, metric, **kw).layer_max
    r64 = align_layers(a, b, metric, dtype=torch.float64, **kw).layer_max
    np.testing.assert_allclose(r32.null_maxima, r64.null_maxima, rtol=1e-5, atol=1e-7)
    assert r32.p_value == r64.p_value


# ---- closed forms --------------------------------------------------------------------------
def test_mutual_knn_chance_is_the_mean_over_all_pairings():
    """k / (n - 1), exactly, averaging over all 7! = 5040 pairings of n = 7 samples."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    n, k = 7, 2
    total = sum(
        round(mutual_knn(a, b[list(p)], k=k) * n * k) for p in itertools.permutations(range(n))
    )
    assert total / (math.factorial(n) * n * k) == pytest.approx(k / (n - 1), abs=1e-15)
    assert chance_level("mutual_knn", n=n, k=k) == k / (n - 1)
    res = align_layers([a], [b], "mutual_knn", k=k)
    assert res.chance[0, 0] == k / (n - 1)


@pytest.mark.parametrize("metric", ["cka", "rbf_cka", "cknna"])
def test_engine_chance_is_the_mean_over_all_pairings(metric):
    """The data-dependent closed form of CKA and CKNNA against all 6! = 720 pairings."""
    rng = np.random.default_rng(1)
    a, b = [rng.normal(size=(6, 3)), rng.normal(size=(6, 5))], [rng.normal(size=(6, 2))]
    params = {"k": 2} if metric == "cknna" else PARAMS[metric]
    res = align_layers(a, b, metric, dtype=torch.float64, **params)
    fn = get_metric(metric).fn
    for i, x in enumerate(a):
        scores = [
            fn(x, b[0][list(p)], dtype=torch.float64, **params)
            for p in itertools.permutations(range(6))
        ]
        assert res.chance[i, 0] == pytest.approx(np.mean(scores), rel=1e-10, abs=1e-13)
    assert chance_level(metric, n=6, **params) is None  # it depends on the data


def test_no_closed_form_for_clipped_or_svd_metrics():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    assert align_layers(a, b, "unbiased_cka").chance is None
    assert align_layers(a, b, "svcca").chance is None


def test_permutation_null_mean_agrees_with_k_over_n_minus_1():
    """400 shuffled pairings: the null mean is within 4 standard errors of k / (n - 1).

    The shuffled scores of one pair are i.i.d. given the data, with the exact mean k / (n - 1)
    (the test above); their mean over P = 400 has standard error std / sqrt(P), and missing by 4
    of them has probability below 1e-4 (the seed fixes the draw, so the test is repeatable).
    """
    n, k, perms = 300, 10, 400
    z = np.random.default_rng(7).normal(size=(n, 4))
    a, b = model(8, (16, 12), n, z), model(9, (10, 20), n, z)
    res = align_layers(a, b, "mutual_knn", k=k, null_permutations=perms, seed=11, device="cpu")
    expected = chance_level("mutual_knn", n=n, k=k)
    err = np.abs(res.null_mean - expected)
    assert (err <= 4 * res.null_std / math.sqrt(perms)).all(), (err, res.null_std)
    assert (res.null_std > 0).all()
    np.testing.assert_array_equal(res.chance, np.full((2, 2), expected))


# ---- the null of the maximum ---------------------------------------------------------------
def test_layer_max_summary_follows_the_add_one_rule():
    raw = np.array([[0.1, 0.5], [0.3, 0.2]])
    maxima = np.array([0.45, 0.5, 0.6, 0.2])  # one tie and one above
    null = np.zeros((4, 2, 2))
    null[:, 1, 0] = maxima  # the maximum of each shuffled matrix
    s = LayerMaxNull.from_null(raw, null)
    assert s.best == 0.5 and s.best_pair == (0, 1)
    assert s.p_value == (1 + 2) / (1 + 4)  # ties count as >=
    assert s.null_quantile == 2 / 4
    assert s.null_max_mean == pytest.approx(0.4375) and s.calibrated == pytest.approx(0.0625)
    assert s.null_max_std == pytest.approx(np.std(maxima, ddof=1))
    close = np.zeros((4, 2, 2))
    close[:, 0, 0] = [0.5 - 1e-9, 0.1, 0.1, 0.1]  # a rounding error below the best
    assert LayerMaxNull.from_null(raw, close).p_value == 1 / 5
    assert LayerMaxNull.from_null(raw, close, tie_tol=1e-6).p_value == 2 / 5
    with pytest.raises(ValueError, match=r"raw must be \(L1, L2\) and null \(P, L1, L2\)"):
        LayerMaxNull.from_null(raw, null[:, :1])


def test_planted_layer_is_significant_and_unrelated_max_is_not():
    n = 128
    rng = np.random.default_rng(4)
    a = [rng.normal(size=(n, 12)) for _ in range(4)]
    planted = [rng.normal(size=(n, 10)) for _ in range(3)] + [a[2] @ rng.normal(size=(12, 12))]
    res = align_layers(a, planted, "cka", null_permutations=50, seed=0, null_mode="raw")
    m = res.layer_max
    assert m.best_pair == (2, 3) and m.p_value == 1 / 51 and m.null_quantile == 1.0
    assert m.calibrated > 0.5

    unrelated = planted[:3]  # 12 pairs of independent layers
    m = align_layers(a, unrelated, "cka", null_permutations=50, seed=0).layer_max
    per_pair_chance = align_layers(a, unrelated, "cka").chance
    assert m.best > per_pair_chance.max()  # the maximum over 12 pairs is inflated
    assert abs(m.calibrated) < 4 * m.null_max_std  # but not above the null of the maximum
    assert m.p_value > 0.01


def test_one_permutation_is_applied_to_all_of_bs_layers():
    """B = two copies of one layer: every shuffled pairing scores both copies the same."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, 3))
    res = align_layers([x], [y, 2.0 * y], "mutual_knn", k=3, null_permutations=5, seed=1)
    np.testing.assert_array_equal(res.null_std[0, 0], res.null_std[0, 1])
    np.testing.assert_array_equal(res.null_mean[0, 0], res.null_mean[0, 1])


def test_seeded_and_json():
    rng = np.random.default_rng(6)
    a, b = [rng.normal(size=(30, 4))], [rng.normal(size=(30, 4)), rng.normal(size=(30, 2))]
    one = align_layers(a, b, "cka", null_permutations=7, seed=3)
    two = align_layers(a, b, "cka", null_permutations=7, seed=3)
    other = align_layers(a, b, "cka", null_permutations=7, seed=4)
    np.testing.assert_array_equal(one.layer_max.null_maxima, two.layer_max.null_maxima)
    assert not np.array_equal(one.layer_max.null_maxima, other.layer_max.null_maxima)
    payload = json.loads(json.dumps(one.to_dict(), allow_nan=False))
    assert payload["layer_max"]["n_permutations"] == 7
    assert payload["layer_max"]["p_value"] == one.layer_max.p_value
    assert len(payload["layer_max"]["null_maxima"]) == 7 and len(payload["chance"][0]) == 2
    assert align_layers(a, b, "cka").layer_max is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("metric", ["cka", "unbiased_cka", "mutual_knn", "cknna"])
def test_cuda_null_matches_cpu(metric):
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(50, 6)) for _ in range(2)]
    b = [rng.normal(size=(50, 4)) for _ in range(3)]
    kw = dict(null_permutations=5, dtype=torch.float64, **PARAMS[metric])
    cpu = align_layers(a, b, metric, device="cpu", **kw)
    gpu = align_layers(a, b, metric, device="cuda", **kw)
    np.testing.assert_allclose(gpu.layer_max.null_maxima, cpu.layer_max.null_maxima, rtol=1e-9)
