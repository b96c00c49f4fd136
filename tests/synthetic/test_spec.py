"""The synthetic spec refuses bad values when it is read: strict types, values that depend on
each other, with messages that name the field, the value and a fix."""

import pytest
from pydantic import ValidationError

from alignlab.data.splits import split_sizes
from alignlab.experiments import resolve_spec
from alignlab.studies.synthetic import SyntheticStudySpec
from alignlab.studies.synthetic.spec import SPLIT, min_samples_for


def _refused(overrides: list[str]) -> str:
    with pytest.raises(ValidationError) as info:
        resolve_spec(SyntheticStudySpec, "quick", overrides=overrides)
    return str(info.value)


@pytest.mark.parametrize(
    ("override", "field", "shown"),
    [
        ("epochs1=true", "epochs1", "True (bool)"),
        ("epochs2=5.0", "epochs2", "5.0 (float)"),
        ("batch_size='512'", "batch_size", "'512' (str)"),
        ("seeds=[0, true]", "seeds.1", "True (bool)"),
        ("n_align=yes", "n_align", "True (bool)"),
        ("null_permutations=2.5", "null_permutations", "2.5 (float)"),
        ("patience=false", "patience", "False (bool)"),
    ],
)
def test_int_fields_take_ints_only(override, field, shown):
    message = _refused([override])
    assert field in message and shown in message and "write an integer" in message


@pytest.mark.parametrize(
    ("override", "field"),
    [("grad_clip=true", "grad_clip"), ("lrs=[0.01, false]", "lrs.1"), ("wds=['a']", "wds.0")],
)
def test_float_fields_refuse_bools_and_text(override, field):
    message = _refused([override])
    assert field in message and "must be a number" in message


def test_float_fields_take_ints_and_yaml_exponents():
    spec = resolve_spec(SyntheticStudySpec, "quick", overrides=["grad_clip=8", "lrs=[1e-3, 1]"])
    assert spec.grad_clip == 8.0 and isinstance(spec.grad_clip, float)
    assert spec.lrs == [0.001, 1.0]  # PyYAML reads 1e-3 as text; it is a number here


def test_bool_field_takes_bools_only():
    assert "normalize" in _refused(["normalize=1"])


def test_n_align_beyond_the_test_split_is_refused_with_both_fixes():
    n_test = split_sizes(65536, SPLIT)[2]
    message = _refused(["n_align=20000"])
    assert f"n_align = 20000 is more than the {n_test} test samples" in message
    assert f"n_align <= {n_test}" in message and "n_samples >= 133327" in message
    assert split_sizes(133327, SPLIT)[2] >= 20000 > split_sizes(133326, SPLIT)[2]


def test_small_n_samples_is_refused_before_training():
    # n_samples = 64 gives a test split of 10: far fewer than the 512 aligned samples
    message = _refused(["n_samples=64"])
    assert "n_align = 512 is more than the 10 test samples that n_samples = 64 gives" in message
    assert f"n_samples >= {min_samples_for(512)}" in message


def test_the_whole_test_split_is_allowed():
    n_test = split_sizes(4096, SPLIT)[2]
    overrides = ["n_samples=4096", f"n_align={n_test}"]
    spec = resolve_spec(SyntheticStudySpec, "quick", overrides=overrides)
    assert spec.n_align == n_test == 615


@pytest.mark.parametrize("n_align", [8, 100, 512, 9831])
def test_min_samples_for_is_the_smallest(n_align):
    n = min_samples_for(n_align)
    assert split_sizes(n, SPLIT)[2] >= n_align > split_sizes(n - 1, SPLIT)[2]


def test_k_must_stay_below_n_align():
    assert "k = 100 must be smaller than n_align = 100" in _refused(["n_align=100"])


def test_selection_options_are_named():
    assert "selection_rule" in _refused(["selection_rule=fast"])
    assert "patience" in _refused(["patience=0"])
    spec = resolve_spec(SyntheticStudySpec, "quick", overrides=["selection_rule=halving"])
    assert spec.selection_rule == "halving" and spec.patience is None
    assert SyntheticStudySpec().selection_rule == "exact"  # the protocol
