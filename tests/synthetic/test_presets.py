"""The synthetic presets: what each one runs, written out in full."""

from importlib import resources

import yaml

from alignlab.experiments import resolve_spec
from alignlab.experiments.spec import preset_expected_minutes, preset_names
from alignlab.studies.synthetic import SyntheticStudySpec


def test_four_presets_ship():
    assert preset_names("synthetic") == ["paper", "paper_fast", "quick", "standard"]


def test_every_preset_writes_every_field():
    fields = set(SyntheticStudySpec.model_fields) - {"null_permutations"}
    for name in preset_names("synthetic"):
        text = resources.files("alignlab.presets").joinpath(f"synthetic_{name}.yaml").read_text()
        missing = fields - set(yaml.safe_load(text))
        assert not missing, f"preset {name} leaves {sorted(missing)} to the defaults"


def test_standard_is_the_quick_grid_trained_to_convergence_with_the_exact_rule():
    quick = resolve_spec(SyntheticStudySpec, "quick")
    standard = resolve_spec(SyntheticStudySpec, "standard")
    same = {"uniqueness", "dphi", "depths1", "depths2", "align_depths1", "lrs", "wds", "seeds"}
    assert all(getattr(quick, f) == getattr(standard, f) for f in same)
    assert standard.epochs2 >= 40 > quick.epochs2  # depth -> accuracy shows from ~40 epochs
    assert standard.selection_rule == "exact" and standard.patience is None
    assert preset_expected_minutes("synthetic", "standard") <= 20


def test_paper_keeps_the_exact_protocol():
    paper = resolve_spec(SyntheticStudySpec, "paper")
    assert paper.selection_rule == "exact" and paper.patience is None
    assert (paper.epochs1, paper.epochs2) == (50, 300)


def test_paper_fast_is_the_paper_grid_with_the_checked_fast_rule():
    paper = resolve_spec(SyntheticStudySpec, "paper")
    fast = resolve_spec(SyntheticStudySpec, "paper_fast")
    rule = {"selection_rule", "search_seeds", "patience"}
    assert all(getattr(paper, f) == getattr(fast, f) for f in set(paper.model_fields) - rule)
    assert (fast.selection_rule, fast.search_seeds, fast.patience) == ("halving", 1, 50)
    assert fast.halving_rungs == 5 and preset_expected_minutes("synthetic", "paper_fast") <= 240
