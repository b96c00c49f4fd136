"""Packed alignment: per-model blocks and nulls equal one engine call per model."""

import numpy as np
import pytest
import torch

from alignlab.experiments.packing import align_packed, align_packed_multi, null_columns
from alignlab.metrics import align_layers


@pytest.fixture(scope="module")
def layers():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(96, 4, generator=g)

    def model(depth: int, signal: float) -> list[torch.Tensor]:
        return [signal * z @ torch.randn(4, 6, generator=g) + torch.randn(96, 6, generator=g)
                for _ in range(depth)]  # fmt: skip

    return model(2, 1.0), [model(1, 2.0), model(3, 0.0), model(2, 0.5)]


@pytest.mark.parametrize(("metric", "params"), [("unbiased_cka", {}), ("mutual_knn", {"k": 5})])
def test_each_block_and_its_null_equal_a_call_on_that_model_alone(layers, metric, params):
    reference, models = layers
    packed = align_packed(reference, models, metric, null_permutations=49, seed=3,
                          max_prepared=96 * 96 * 4, **params)  # fmt: skip (forces 2+ groups)
    for p, model in zip(packed, models, strict=True):
        alone = align_layers(reference, model, metric, null_permutations=49, null_mode="raw",
                             seed=3, **params)  # fmt: skip
        np.testing.assert_allclose(p.matrix, alone.raw, atol=1e-6)
        assert (p.layer_ref, p.layer_model) == alone.layer_max.best_pair
        np.testing.assert_allclose(p.null.null_maxima, alone.layer_max.null_maxima, atol=1e-6)
        assert p.null.p_value == alone.layer_max.p_value
    # the shared latent is in model 0 and absent from model 1
    assert packed[0].null.p_value == 1 / 50 and packed[1].null.p_value > 0.05


def test_multi_equals_one_call_per_metric(layers):
    reference, models = layers
    multi = align_packed_multi(reference, models, {"unbiased_cka": {}, "mutual_knn": {"k": 5}},
                               null_permutations=19, seed=1)  # fmt: skip
    for metric, params in (("unbiased_cka", {}), ("mutual_knn", {"k": 5})):
        one = align_packed(reference, models, metric, null_permutations=19, seed=1, **params)
        for a, b in zip(multi[metric], one, strict=True):
            np.testing.assert_allclose(a.matrix, b.matrix, atol=1e-6)
            assert a.null.p_value == b.null.p_value


def test_row_columns_with_and_without_a_null(layers):
    reference, models = layers
    with_null = align_packed(reference, models[:1], "cka", null_permutations=9)[0].columns()
    assert with_null["calibrated"] == pytest.approx(with_null["score"] - with_null["null_mean"])
    assert with_null["null_permutations"] == 9 and 0 < with_null["p_value"] <= 1
    without = align_packed(reference, models[:1], "cka")[0].columns()
    assert np.isnan(without["null_mean"]) and without["null_permutations"] == 0
    assert set(null_columns(None)) == set(with_null) - {"score", "layer_a", "layer_b", "matrix"}


def test_a_per_pair_null_mode_is_refused(layers):
    reference, models = layers
    with pytest.raises(ValueError, match="null_mode must be 'raw'"):
        align_packed(reference, models, "cka", null_permutations=3, null_mode="subtract")
