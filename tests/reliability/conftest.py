"""Shared pieces of the reliability tests: a tiny synthetic spec that trains in seconds."""

import pytest

TINY_SYNTHETIC = {
    "study": "synthetic",
    "uniqueness": [0],
    "dphi": [1],
    "depths1": [1],
    "depths2": [1],
    "align_depths1": [1],
    "lrs": [0.01],
    "wds": [0.0, 0.01],
    "epochs1": 1,
    "epochs2": 1,
    "seeds": [0, 1],
    "n_samples": 2048,
    "n_align": 128,
    "null_permutations": 0,
    "metrics": [{"name": "unbiased_cka"}],
}


@pytest.fixture
def tiny_synthetic() -> dict:
    """A synthetic spec of 2 train jobs (4 members each) and 1 align job (seconds on one core)."""
    return {k: (list(v) if isinstance(v, list) else v) for k, v in TINY_SYNTHETIC.items()}
