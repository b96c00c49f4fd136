"""Shared test settings: one torch thread, offline Hugging Face, deterministic seeds."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

torch.set_num_threads(1)

# Property tests draw the same examples on every run: CI cannot fail on a case a developer never
# saw. Explore new examples locally with HYPOTHESIS_PROFILE=explore.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


_OWN_CACHE: list[str] = []  # the cache directory this session made, removed when it ends


def pytest_configure(config):
    """Keep the on-disk dataset cache of the tests out of the user's home."""
    import tempfile

    if "ALIGNLAB_CACHE" not in os.environ:
        _OWN_CACHE.append(tempfile.mkdtemp(prefix="alignlab-test-cache-"))
        os.environ["ALIGNLAB_CACHE"] = _OWN_CACHE[0]


def pytest_unconfigure(config):
    """Remove the session's own cache; one the user named stays."""
    import shutil

    for path in _OWN_CACHE:
        shutil.rmtree(path, ignore_errors=True)
