"""Numerics: float32 CKA agrees with float64 at the 1M-entry scale, and scale-invariant metrics
give the same score for features of any size the dtype can hold (a named error beyond)."""

import numpy as np
import pytest
import torch

from alignlab.metrics import align_layers, cka, cknna, mutual_knn, rbf_cka, svcca, unbiased_cka
from alignlab.metrics._reduce import pair_dots, rescale_pow2, self_dots


def _features(n, d, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    b = a[:, : d // 3] @ rng.normal(size=(d // 3, d)) + rng.normal(size=(n, d))
    return a.astype(np.float32), b.astype(np.float32)  # float32-exact inputs for both dtypes


# ---- float32 accumulates its n * n reductions in float64 ------------------------------------
@pytest.mark.parametrize("fn", [cka, unbiased_cka])
def test_float32_cka_within_1e6_of_float64_on_1024_x_768(fn):
    """1024 samples: kernels of 1M entries, whose squared norms summed in float32 were off by
    4e-5 relative (CKA off by 1.4e-5 to 8.4e-5)."""
    a, b = _features(1024, 768)
    assert abs(fn(a, b) - fn(a, b, dtype=torch.float64)) < 1e-6
    assert abs(fn(a, a[:, ::-1].copy()) - 1.0) < 1e-6


def test_float32_engine_within_1e6_of_float64():
    a, b = _features(1024, 96, seed=1)
    layers_a, layers_b = [a, a[:, :40]], [b, b[:, 50:]]
    for metric in ("cka", "unbiased_cka"):
        r32 = align_layers(layers_a, layers_b, metric, device="cpu").matrix
        r64 = align_layers(layers_a, layers_b, metric, dtype=torch.float64, device="cpu").matrix
        np.testing.assert_allclose(r32, r64, rtol=0, atol=1e-6)


def test_chunked_reductions_match_a_plain_float64_sum():
    rng = np.random.default_rng(2)
    sa = torch.from_numpy(rng.normal(size=(2, 300, 300)).astype(np.float32)) + 3.0
    sb = torch.from_numpy(rng.normal(size=(3, 300, 300)).astype(np.float32)) - 1.0
    a64, b64 = sa.double().reshape(2, -1), sb.double().reshape(3, -1)
    got, want = pair_dots(sa, sb), a64 @ b64.T  # float32 products are exact in float64
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-7)
    np.testing.assert_allclose(self_dots(sb).numpy(), (b64 * b64).sum(1).numpy(), rtol=1e-7)


# ---- scale: the same score at any size --------------------------------------------------------
SCALE_FNS = {
    "cka": cka,
    "unbiased_cka": unbiased_cka,
    "rbf_cka": lambda a, b, **kw: rbf_cka(a, b, sigma_multiple=0.7, **kw),
    "mutual_knn": lambda a, b, **kw: mutual_knn(a, b, k=5, **kw),
    "cknna": lambda a, b, **kw: cknna(a, b, k=5, **kw),
    "svcca": svcca,
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e9, 1e18, 1e-20])
@pytest.mark.parametrize("name", list(SCALE_FNS))
def test_scale_invariant_metrics_at_huge_and_tiny_scales(name, scale, dtype):
    fn = SCALE_FNS[name]
    a, b = (x.astype(np.float64) for x in _features(200, 30, seed=3))
    base = fn(a, b, dtype=torch.float64)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    # a * scale rounds differently from a in float32 (an ulp of the inputs), well within tol
    assert fn(a * scale, b, dtype=dtype) == pytest.approx(base, abs=tol)
    assert fn(a * scale, b * scale, dtype=dtype) == pytest.approx(base, abs=tol)


@pytest.mark.parametrize("scale", [2.0**60, 2.0**-70])
def test_power_of_two_scales_give_identical_scores(scale):
    a, b = _features(100, 8, seed=4)
    for name in ("mutual_knn", "cka", "cknna"):
        fn = SCALE_FNS[name]
        assert fn(a * scale, b) == fn(a, b)  # the rescaling is exact: the same bits


@pytest.mark.parametrize("scale", [1e150, 1e-160])
def test_float64_beyond_float32_range(scale):
    """Grams of these overflow (underflow) even float64; the scores do not."""
    a, b = _features(64, 10, seed=5)
    for name in ("cka", "unbiased_cka", "mutual_knn"):
        fn = SCALE_FNS[name]
        expected = fn(a, b, dtype=torch.float64)
        got = fn(a.astype(np.float64) * scale, b, dtype=torch.float64)
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("scale", [1e18, 1e-20])
def test_engine_scale_with_concat_and_normalize(scale):
    a, b = _features(80, 12, seed=6)
    layers_a, layers_b = [a, a[:, :5]], [b[:, :7], b]
    for metric, kw in (("cka", {}), ("unbiased_cka", {}), ("mutual_knn", {"k": 4})):
        base = align_layers(
            layers_a,
            layers_b,
            metric,
            include_concat=True,
            normalize=True,
            dtype=torch.float64,
            **kw,
        ).matrix
        got = align_layers(
            [x * scale for x in layers_a],
            layers_b,
            metric,
            include_concat=True,
            normalize=True,
            **kw,
        ).matrix
        np.testing.assert_allclose(got, base, rtol=0, atol=1e-6)


def test_values_beyond_the_dtype_raise_a_named_error():
    a, b = _features(20, 4)
    with pytest.raises(
        ValueError,
        match=r"a holds values up to .* beyond the range of "
        r"torch.float32.*dtype=torch.float64",
    ):
        cka(a.astype(np.float64) * 1e39, b)
    assert cka(a.astype(np.float64) * 1e39, b, dtype=torch.float64) == pytest.approx(
        cka(a, b, dtype=torch.float64), abs=1e-12
    )


def test_rescale_leaves_moderate_features_untouched():
    x = torch.randn(5, 3)
    assert rescale_pow2(x) is x
    assert rescale_pow2(x, float(torch.linalg.vector_norm(x))) is x  # the norm given
    huge = x.double() * 1e30
    assert torch.equal(rescale_pow2(huge, float(torch.linalg.vector_norm(huge))),
                       rescale_pow2(huge))  # fmt: skip
    big = rescale_pow2(x.double() * 1e30)
    assert 0.5 <= float(big.abs().max()) < 1.0
    np.testing.assert_array_equal(
        (big / big.abs().max()).numpy(),
        (x.double() * 1e30 / (x.double() * 1e30).abs().max()).numpy(),
    )
