"""Bad input: one clear ValueError per problem, worded as pinned here, from every entry point."""

import math

import numpy as np
import pytest
import torch

from alignlab.metrics import (
    align_layers,
    cka,
    cknna,
    hsic,
    mutual_knn,
    nearest_neighbors,
    svcca,
    unbiased_cka,
)
from alignlab.metrics._validation import checked_representation

RNG = np.random.default_rng(0)
A = RNG.normal(size=(20, 5))
B = RNG.normal(size=(20, 3))
PAIR_FNS = [cka, unbiased_cka, svcca, lambda a, b: mutual_knn(a, b, k=3)]


@pytest.mark.parametrize("fn", PAIR_FNS)
def test_different_n(fn):
    with pytest.raises(ValueError, match=r"same samples in the same order.*a has 20, b has 19"):
        fn(A, B[:19])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fn", PAIR_FNS)
def test_nan_or_inf(fn, bad):
    b = B.copy()
    b[3, 1] = bad
    with pytest.raises(ValueError, match=r"b contains 1 NaN or Inf values.*Remove or impute"):
        fn(A, b)


@pytest.mark.parametrize("k", [20, 25])
def test_k_at_least_n(k):
    with pytest.raises(ValueError, match=rf"1 <= k < n.*got k={k} with n=20 samples"):
        mutual_knn(A, B, k=k)
    with pytest.raises(ValueError, match=r"1 <= k < n"):
        cknna(A, B, k=k)
    with pytest.raises(ValueError, match=r"1 <= k < n"):
        nearest_neighbors(A, k)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_not_a_positive_integer(k):
    with pytest.raises(ValueError, match=r"k must"):
        mutual_knn(A, B, k=k)


def test_unbiased_needs_four_samples():
    with pytest.raises(ValueError, match=r"a has 3 samples; unbiased HSIC needs at least 4"):
        unbiased_cka(A[:3], B[:3])
    with pytest.raises(ValueError, match=r"needs at least 4"):
        hsic(A[:3], B[:3], unbiased=True)
    assert np.isfinite(unbiased_cka(A[:4], B[:4]))


@pytest.mark.parametrize("fn", PAIR_FNS)
def test_constant_representation(fn):
    const = np.tile(RNG.normal(size=(1, 3)), (20, 1))
    with pytest.raises(ValueError, match=r"b is constant \(zero variance\)"):
        fn(A, const)


def test_not_two_dimensional():
    with pytest.raises(ValueError, match=r"a must be 2-D of shape \(n_samples, n_features\); got"):
        cka(A[:, 0], B)
    with pytest.raises(ValueError, match=r"got shape \(20, 5, 1\)"):
        cka(A[:, :, None], B)


def test_zero_features_and_complex_and_wrong_type():
    with pytest.raises(ValueError, match=r"a has 0 features"):
        cka(A[:, :0], B)
    with pytest.raises(ValueError, match=r"real numbers"):
        cka(A.astype(complex), B)
    with pytest.raises(TypeError, match=r"torch.Tensor or numpy.ndarray"):
        cka(A.tolist(), B)


def test_bad_dtype():
    with pytest.raises(ValueError, match=r"dtype must be torch.float32 or torch.float64"):
        cka(A, B, dtype=torch.float16)


def test_accepts_numpy_torch_integers_and_read_only_arrays():
    ints = RNG.integers(-3, 4, size=(20, 4))
    frozen = A.copy()
    frozen.flags.writeable = False
    assert 0.0 <= cka(ints, frozen) <= 1.0
    assert cka(torch.from_numpy(A), A) == pytest.approx(1.0, abs=1e-6)


def test_engine_errors():
    layers = [A, A[:, :2]]
    with pytest.raises(
        ValueError, match=r"numbers of rows differ: layers_a\[0\] has 20, layers_a\[1\] has 19"
    ):
        align_layers([A, A[:19]], [B], "cka")
    with pytest.raises(ValueError, match=r"unknown metric 'foo'; choose one of: cka"):
        align_layers(layers, [B], "foo")
    with pytest.raises(ValueError, match=r"metric 'cka' does not take k; it takes: kernel"):
        align_layers(layers, [B], "cka", k=3)
    with pytest.raises(ValueError, match=r"metric 'mutual_knn' needs k"):
        align_layers(layers, [B], "mutual_knn")
    with pytest.raises(ValueError, match=r"2 or more for null_mode='zscore'"):
        align_layers(layers, [B], "cka", null_permutations=1, null_mode="zscore")
    with pytest.raises(ValueError, match=r"null_mode must be 'subtract', 'zscore' or 'raw'"):
        align_layers(layers, [B], "cka", null_permutations=2, null_mode="ratio")
    with pytest.raises(ValueError, match=r"clamp_q must be in \(0, 1\]"):
        align_layers(layers, [B], "cka", clamp_q=1.5)
    with pytest.raises(ValueError, match=r"layers_b\[0\] contains 1 NaN"):
        bad = B.copy()
        bad[0, 0] = np.nan
        align_layers(layers, [bad], "cka")
    with pytest.raises(ValueError, match=r"layers_a must be of shape \(n, d\) or \(n, layers, d\)"):
        align_layers(A[:, 0], [B], "cka")
    with pytest.raises(ValueError, match=r"non-empty list"):
        align_layers([], [B], "cka")
    with pytest.raises(ValueError, match=r"unbiased_cka needs at least 4"):
        align_layers([A[:3]], [B[:3]], "unbiased_cka")
    with pytest.raises(ValueError, match=r"kernel must be 'linear' or 'rbf'"):
        align_layers(layers, [B], "cka", kernel="poly")


def test_the_finiteness_pass_gives_the_norm():
    """A finite norm proves finite entries; squares beyond float32 (an infinite norm of finite
    entries) take the entrywise test and pass, and the layer is then rescaled as before."""
    x = torch.from_numpy(A).float()
    t, norm = checked_representation(x, "x")
    assert norm == float(torch.linalg.vector_norm(x))
    big = x * 1e30
    t, norm = checked_representation(big, "x")
    assert norm == math.inf and bool(torch.isfinite(t).all())
    assert align_layers([big], [x], "cka").matrix[0, 0] == pytest.approx(1.0, abs=1e-6)
