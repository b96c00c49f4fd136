"""Correlations with bootstrap intervals: closed forms, undefined cases, agreement with scipy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alignlab.stats import Correlation, correlation, median_ci

TOL = 1e-9


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_perfectly_increasing_data_has_correlation_one_and_interval_one(method):
    x = np.arange(20.0)
    y = 3 * x + 1 if method == "pearson" else np.exp(x / 4)  # monotone, not linear
    c = correlation(x, y, method)
    assert c.value == pytest.approx(1.0, abs=TOL)
    assert c.low == pytest.approx(1.0, abs=TOL) and c.high == pytest.approx(1.0, abs=TOL)
    assert c.n == 20 and c.reason is None and c.defined


def test_decreasing_data_has_correlation_minus_one():
    c = correlation([1, 2, 3, 4], [9, 7, 3, 1], "spearman")
    assert c.value == pytest.approx(-1.0, abs=TOL)


def test_known_pearson_value():
    # deviations (-2,-1,0,1,2) and (-1,-2,1,0,2): 8 / sqrt(10 * 10) = 0.8
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    assert correlation(x, y, "pearson").value == pytest.approx(0.8, abs=TOL)
    assert correlation(x, y, "spearman").value == pytest.approx(0.8, abs=TOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_match_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    assert correlation(x, y, "pearson", n_boot=0).value == pytest.approx(
        stats.pearsonr(x, y).statistic, abs=TOL
    )
    assert correlation(x, y, "spearman", n_boot=0).value == pytest.approx(
        stats.spearmanr(x, y).statistic, abs=TOL
    )


@pytest.mark.parametrize(
    ("x", "y", "reason", "n"),
    [
        ([1, 2], [3, 4], "fewer than 3 points", 2),
        ([], [], "fewer than 3 points", 0),
        ([2, 2, 2, 2], [1, 2, 3, 4], "x is constant", 4),
        ([1, 2, 3, 4], [5, 5, 5, 5], "y is constant", 4),
        ([1, 1, 1], [1, 1, 1], "x is constant", 3),
        ([1, 2, np.nan, 4], [1, np.nan, 3, 4], "fewer than 3 points", 2),
    ],
)
@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_undefined_correlations_have_a_reason_and_no_value(x, y, reason, n, method):
    c = correlation(x, y, method)
    assert c.value is None and c.low is None and c.high is None
    assert c.reason == reason and c.n == n and not c.defined
    assert str(c) == f"undefined: {reason} (n = {n})"


def test_nan_and_inf_pairs_are_dropped_before_counting():
    x = [1, 2, 3, np.nan, 5, 6, np.inf]
    y = [1, 3, 2, 4, np.nan, 7, 8]
    c = correlation(x, y, "pearson")
    ref = stats.pearsonr([1, 2, 3, 6], [1, 3, 2, 7]).statistic
    assert c.n == 4 and c.value == pytest.approx(ref, abs=TOL)


def test_interval_contains_the_estimate_on_noisy_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = 0.5 * x + rng.normal(size=50)
    for method in ("spearman", "pearson"):
        c = correlation(x, y, method)
        assert -1 <= c.low < c.value < c.high <= 1
        assert c.n_boot == 1000


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert correlation(x, y, seed=7) == correlation(x, y, seed=7)
    assert correlation(x, y, seed=7).low != correlation(x, y, seed=8).low


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_vectorised_bootstrap_matches_a_plain_loop(method):
    rng = np.random.default_rng(5)
    x = rng.normal(size=15).round(1)  # ties, to exercise average ranks
    y = (x + rng.normal(size=15)).round(1)
    c = correlation(x, y, method, n_boot=200, ci=0.9, seed=11)
    idx = np.random.default_rng(11).integers(0, 15, size=(200, 15))
    f = stats.spearmanr if method == "spearman" else stats.pearsonr
    ref = [f(x[i], y[i]).statistic for i in idx if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0]
    assert c.n_boot == len(ref)
    assert c.low == pytest.approx(np.quantile(ref, 0.05), abs=TOL)
    assert c.high == pytest.approx(np.quantile(ref, 0.95), abs=TOL)


def test_constant_resamples_are_dropped():
    c = correlation([0, 0, 0, 0, 1], [1, 2, 3, 4, 5], "pearson", n_boot=500)
    assert c.defined and 0 < c.n_boot < 500


def test_formatting():
    c = Correlation("spearman", 0.8234, 0.6111, 0.9299, 30, None, 1000)
    assert str(c) == "ρ = 0.82 [0.61, 0.93] (n = 30)"
    assert str(Correlation("pearson", -0.5, None, None, 12)) == "r = -0.50 (n = 12)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "kendall"}, "method must be one of spearman, pearson, got 'kendall'"),
        ({"ci": 1.5}, "ci must be in (0, 1), got 1.5"),
        ({"n_boot": -1}, "n_boot must be >= 0, got -1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        correlation([1, 2, 3], [1, 2, 3], **kwargs)


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="same length"):
        correlation([1, 2, 3], [1, 2])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=0, max_size=25),
    st.sampled_from(["spearman", "pearson"]),
)
def test_properties(pairs, method):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    c = correlation(x, y, method, n_boot=100)
    assert c.n == len(pairs)
    if c.defined:
        assert -1 <= c.value <= 1
        assert c.low is None or -1 <= c.low <= c.high <= 1
        if method == "spearman":  # invariant under a strictly increasing transform
            assert correlation(x**3, y, method, n_boot=0).value == pytest.approx(c.value)
    else:
        assert c.reason in ("fewer than 3 points", "x is constant", "y is constant")


def test_median_ci():
    m = median_ci([0.2, None, 0.4, np.nan, 0.9])
    assert m.value == pytest.approx(0.4) and m.n == 3
    assert 0.2 <= m.low <= m.value <= m.high <= 0.9
    assert median_ci([None]).value is None and str(median_ci([])) == "undefined: no values (n = 0)"
    assert median_ci([0.5]).low is None


def test_bonett_wright_interval_closed_form_and_widening():
    import math

    from alignlab.stats import Correlation, bonett_wright_interval

    # r = 0, n = 28: z +- 1.96 * sqrt(1 / 25), exactly tanh(0.392) either side
    r = bonett_wright_interval(Correlation("spearman", 0.0, -0.1, 0.1, 28), ci=0.95)
    assert math.isclose(r.high, math.tanh(1.959964 * 0.2), rel_tol=1e-5)
    assert math.isclose(r.low, -r.high)
    # a bootstrap bound already wider is kept
    wide = bonett_wright_interval(Correlation("spearman", 0.0, -0.9, 0.9, 28), ci=0.95)
    assert (wide.low, wide.high) == (-0.9, 0.9)
    # undefined correlations pass through
    none = Correlation("spearman", None, None, None, 2, "fewer than 3 points")
    assert bonett_wright_interval(none) == none
