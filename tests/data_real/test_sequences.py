"""Sequence helpers against slow plain references."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alignlab.data._sequences import crop_and_pad, first_real_step, masked_stats, patchify


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), t=st.integers(1, 9), length=st.integers(1, 12), seed=st.integers(0, 99))
def test_crop_and_pad_matches_a_loop(n, t, length, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 3))
    start = rng.integers(0, t + 1, size=n)
    out, mask = crop_and_pad(x, start, length)
    for i in range(n):
        kept = x[i, start[i] : start[i] + length]
        assert mask[i].sum() == len(kept) and mask[i, : len(kept)].all()
        np.testing.assert_array_equal(out[i, : len(kept)], kept)
        assert (out[i, len(kept) :] == 0).all()


def test_first_real_step_is_the_first_row_with_any_non_zero():
    x = np.zeros((3, 5, 2))
    x[0, 1, 1] = 1.0
    x[1, 4, 0] = -2.0
    assert first_real_step(x).tolist() == [1, 4, 5]


def test_masked_stats_ignore_padding_and_floor_constant_features():
    x = np.array([[[1.0, 5.0], [3.0, 5.0], [1e6, 1e6]]])
    mean, std = masked_stats(x, np.array([[True, True, False]]))
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]


def test_patchify_is_a_permutation_of_pixels():
    images = np.random.default_rng(0).normal(size=(2, 28, 28))
    tokens = patchify(images, 4)
    assert tokens.shape == (2, 49, 16)
    np.testing.assert_array_equal(np.sort(tokens.reshape(2, -1)), np.sort(images.reshape(2, -1)))
    np.testing.assert_array_equal(tokens[1, 13].reshape(4, 4), images[1, 4:8, 24:28])


def test_masked_stats_without_a_floor_keep_tiny_stds_but_not_zero():
    x = np.array([[[0.0, 5.0], [2e-8, 5.0]]])
    mean, std = masked_stats(x, None, floor=0.0)
    assert std.tolist() == [1e-8, 1.0] and mean.tolist() == [1e-8, 5.0]
    assert masked_stats(x, None)[1].tolist() == [1.0, 1.0]  # the default floor of 1e-6
