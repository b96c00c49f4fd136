"""Specs: presets load, unknown keys and impossible values are refused, overrides apply."""

import pytest
from pydantic import ValidationError

from alignlab.experiments import resolve_spec
from alignlab.experiments.spec import apply_overrides, load_preset
from alignlab.studies.synthetic import SyntheticStudySpec


def test_paper_preset_is_the_protocol():
    spec = SyntheticStudySpec.model_validate(load_preset("synthetic", "paper"))
    assert spec.uniqueness == list(range(9))
    assert spec.dphi == list(range(1, 11))
    assert spec.depths2 == list(range(1, 11))
    assert spec.lrs == [1e-3, 5e-3, 1e-2, 5e-2]
    assert spec.wds == [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
    assert (spec.epochs1, spec.epochs2, spec.batch_size, spec.grad_clip) == (50, 300, 512, 8.0)
    assert [(m.name, m.k) for m in spec.metrics] == [("unbiased_cka", None), ("mutual_knn", 100)]
    assert spec.n_align == 512 and len(spec.seeds) == 5
    # the defaults are the protocol too: the preset only writes them out
    assert spec == SyntheticStudySpec()


def test_quick_preset_is_a_smaller_grid_of_the_same_study():
    quick = resolve_spec(SyntheticStudySpec, "quick")
    paper = SyntheticStudySpec()
    assert set(quick.uniqueness) <= set(paper.uniqueness)
    assert 0 in quick.uniqueness and 8 in quick.uniqueness
    assert set(quick.dphi) <= set(paper.dphi)
    assert quick.fingerprint() != paper.fingerprint()


def test_unknown_field_is_refused_with_its_name():
    with pytest.raises(ValidationError, match="epoch2"):
        SyntheticStudySpec.model_validate({"epoch2": 5})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("uniqueness", [0, 9], "uniqueness levels must be in 0..8"),
        ("dphi", [-1], "dphi values must be >= 0"),
        ("depths2", [0, 1], "encoder depths must be >= 1"),
        ("lrs", [0.0], "learning rates must be"),
        ("wds", [-0.1], "weight decays must be"),
        ("epochs2", 0, "greater than or equal to 1"),
    ],
)
def test_impossible_values_are_refused(field, value, message):
    with pytest.raises(ValidationError, match=message) as info:
        SyntheticStudySpec.model_validate({field: value})
    assert field in str(info.value)


def test_k_must_be_smaller_than_the_alignment_samples():
    with pytest.raises(ValidationError, match="k = 100 must be smaller than n_align = 64"):
        SyntheticStudySpec(n_align=64)


def test_aligned_depths_must_be_trained():
    with pytest.raises(ValidationError, match=r"align_depths1 \[3\] are not trained"):
        SyntheticStudySpec(depths1=[1, 2], align_depths1=[1, 3])


def test_overrides_parse_yaml_values_and_reach_the_spec():
    spec = resolve_spec(SyntheticStudySpec, "quick", overrides=["epochs2=7", "seeds=[3, 1]"])
    assert spec.epochs2 == 7 and spec.seeds == [1, 3]
    with pytest.raises(ValueError, match="must look like field=value"):
        apply_overrides({}, ["epochs2"])


def test_spec_file_yaml_and_toml(tmp_path):
    (tmp_path / "a.yaml").write_text("epochs1: 3\nseeds: [0]\n")
    (tmp_path / "b.toml").write_text("epochs1 = 3\nseeds = [0]\n")
    a = resolve_spec(SyntheticStudySpec, config=tmp_path / "a.yaml")
    b = resolve_spec(SyntheticStudySpec, config=tmp_path / "b.toml")
    assert a == b and a.epochs1 == 3
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_spec(SyntheticStudySpec, config=tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="either --preset or --config"):
        resolve_spec(SyntheticStudySpec, "quick", tmp_path / "a.yaml")


def test_fingerprint_changes_with_every_field():
    base = SyntheticStudySpec()
    changed = [
        base.model_copy(update={"epochs2": 299}),
        base.model_copy(update={"transform": "invertible"}),
        base.model_copy(update={"n_align": 256}),
        base.model_copy(update={"data_seed": 1}),
    ]
    prints = {base.fingerprint()} | {s.fingerprint() for s in changed}
    assert len(prints) == 5
