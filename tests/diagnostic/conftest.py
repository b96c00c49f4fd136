"""Shared data and one small diagnostic run for the diagnostic's tests."""

import numpy as np
import pytest
import torch

from alignlab.data.synthetic import SyntheticConfig, build_synthetic
from alignlab.studies.diagnostic.pipeline import DiagnosticSettings, diagnose

TINY = dict(
    max_depth=3, seeds=2, lrs=(1e-2,), wds=(0.0,), epochs=3, n_align=128,
    null_permutations=79, n_boot=100,
)  # fmt: skip


def synthetic_arrays(r: int, n: int, seed: int = 0, dphi: int = 1):
    """``(x1, x2, y)`` NumPy arrays of a synthetic dataset, all splits stacked."""
    config = SyntheticConfig(r=r, dphi=dphi, n_samples=n, label_seed=seed + 10, split_seed=seed)
    data = build_synthetic(config, cache=False)
    parts = [data.split(s) for s in ("train", "val", "test")]
    return tuple(torch.cat([getattr(p, a) for p in parts]).numpy() for a in ("x1", "x2", "y"))


@pytest.fixture(scope="session")
def small_data():
    return synthetic_arrays(r=8, n=600)


@pytest.fixture(scope="session")
def tiny_settings():
    return DiagnosticSettings(**TINY)


@pytest.fixture(scope="session")
def tiny_result(small_data, tiny_settings):
    return diagnose(*small_data, tiny_settings, progress=False, names=("image", "audio"))


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
