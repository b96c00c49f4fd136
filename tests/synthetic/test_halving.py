"""Successive halving over the (lr, wd) grid: survivors on constructed cases, and a tiny study
whose halving run keeps the exact protocol's trajectories for the settings it trains to the end."""

import math

import pandas as pd
import pytest

from alignlab.experiments import ExecutorConfig, run_study
from alignlab.experiments.selection import halving_survivors, select_hyperparameters
from alignlab.experiments.status import run_status
from alignlab.experiments.store import RunStore, read_plan
from alignlab.studies.synthetic import STUDY, SyntheticStudySpec
from alignlab.studies.synthetic.study import rung_epochs


def _frame(settings, scores, group="a"):
    """One row per (setting, score); settings repeat for several members."""
    rows = [
        {"g": group, "lr": lr, "wd": wd, "val_score": v}
        for (lr, wd), vs in zip(settings, scores, strict=True)
        for v in vs
    ]
    return pd.DataFrame(rows)


def test_halving_keeps_the_best_mean_not_the_best_member():
    # setting (3, 0) has the single best member (0.99) but the worst mean: it must go
    settings = [(1, 0), (2, 0), (3, 0), (4, 0)]
    scores = [[0.70, 0.72], [0.80, 0.60], [0.99, 0.10], [0.75, 0.76]]
    assert halving_survivors(_frame(settings, scores), ["g"]) == {("a",): [(1, 0), (4, 0)]}
    # and the best arm survives every rung down to one
    assert halving_survivors(_frame(settings, scores), ["g"], keep=0.25) == {("a",): [(4, 0)]}


def test_a_diverged_member_counts_as_zero_and_odd_counts_round_up():
    settings = [(1, 0), (1, 0.1), (2, 0), (2, 0.1), (3, 0)]
    scores = [[0.5, 0.5], [0.9, math.nan], [0.6, 0.6], [0.4, 0.4], [0.55, 0.55]]
    # (1, 0.1): mean of 0.9 and a failure (0) is 0.45, below 0.5
    assert halving_survivors(_frame(settings, scores), ["g"]) == {
        ("a",): [(1, 0), (2, 0), (3, 0)]  # ceil(5 / 2) = 3, in grid order
    }


def test_ties_go_to_the_first_setting_and_groups_are_separate():
    a = _frame([(1, 0), (2, 0)], [[0.5], [0.5]], "a")
    b = _frame([(1, 0), (2, 0)], [[0.1], [0.9]], "b")
    assert halving_survivors(pd.concat([a, b]), ["g"]) == {("a",): [(1, 0)], ("b",): [(2, 0)]}


def test_a_missing_group_value_is_a_group_named_none():
    m = pd.DataFrame(
        {"dphi": [None, None, 1, 1], "lr": [1, 2, 1, 2], "wd": 0, "val_score": [0.1, 0.2, 0.4, 0.3]}
    )
    assert halving_survivors(m, ["dphi"]) == {(None,): [(2, 0)], (1.0,): [(1, 0)]}


def test_rung_budgets_double_up_to_the_full_epochs():
    assert rung_epochs(300, 5) == [19, 38, 75, 150, 300]
    assert rung_epochs(50, 5) == [4, 7, 13, 25, 50]
    assert rung_epochs(2, 5) == [1, 2]  # repeats dropped: one rung fewer


TINY = dict(
    uniqueness=[0],
    dphi=[1],
    depths1=[1],
    depths2=[1, 2],
    align_depths1=[1],
    lrs=[0.001, 0.05],
    wds=[0.0, 0.1],
    epochs1=4,
    epochs2=4,
    seeds=[0, 1],
    n_samples=2048,
    n_align=64,
    null_permutations=0,
    metrics=[{"name": "unbiased_cka"}],
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("halving")
    out = {}
    for rule in ("exact", "halving"):
        spec = SyntheticStudySpec(**TINY, selection_rule=rule, halving_rungs=3)
        out[rule] = run_study(spec, root / rule, ExecutorConfig(workers=1, quiet=True))
    return out


def test_halving_study_reports_each_member_once_at_its_last_rung(runs):
    models = runs["halving"].models
    n_cells = 1 + 2  # x1 depth 1, x2 (D_phi 1) depths 1 and 2
    assert len(models) == n_cells * 4 * 2  # every setting x seed once
    assert models.groupby(["modality", "depth", "lr", "wd", "seed"]).size().eq(1).all()
    # budgets 1, 2, 4 epochs: 4 settings, then 2, then 1 per (U, modality)
    for _, group in models.groupby("modality"):
        per_rung = group.groupby("rung")[["lr", "wd"]].apply(
            lambda g: len(set(map(tuple, g.values)))
        )
        assert per_rung.to_dict() == {0: 2, 1: 1, 2: 1}
        assert sorted(group.groupby("rung")["epochs"].first().tolist()) == [1, 2, 4]
    selected = models[models["selected"]]
    assert (selected["rung"] == 2).all() and (selected["epochs"] == 4).all()
    assert selected.groupby("modality")[["lr", "wd"]].nunique().eq(1).all().all()


def test_halving_survivors_follow_the_exact_trajectories(runs):
    exact, halving = runs["exact"].models, runs["halving"].models
    cols = ["modality", "depth", "seed", "lr", "wd"]
    last = halving[halving["rung"] == 2].merge(exact, on=cols, suffixes=("", "_exact"))
    assert len(last) == 3 * 2  # one setting per modality, every depth and seed
    assert last["val_score"].to_numpy() == pytest.approx(last["val_score_exact"].to_numpy(), abs=0)
    assert (last["best_epoch"] == last["best_epoch_exact"]).all()


def test_halving_selection_is_the_exact_rule_among_the_survivors(runs):
    halving = runs["halving"].models
    last = halving[halving["rung"] == 2]
    assert select_hyperparameters(last, ["u", "modality"]).tolist() == last["selected"].tolist()
    assert len(runs["halving"].alignments) == len(runs["exact"].alignments) > 0


def test_plan_counts_every_rung_of_a_halving_run(runs):
    n_cells, n_rungs = 1 + 2, 3  # budgets 1, 2, 4 epochs for both modalities
    for rule, expected in (("exact", n_cells), ("halving", n_cells * n_rungs)):
        root = runs[rule].run_dir
        assert read_plan(root)["train"] == expected == len(RunStore(root).done_keys("train"))
        assert run_status(root).phases["train"] == (expected, expected)
    spec = SyntheticStudySpec(**TINY, selection_rule="halving", halving_rungs=3)
    assert STUDY.totals(spec, RunStore(runs["halving"].run_dir))["train"] == n_cells * n_rungs
