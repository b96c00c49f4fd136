"""Hyperparameter selection reads validation scores only, per (U, modality) or per cell."""

import numpy as np
import pandas as pd

from alignlab.studies.synthetic.jobs import select_hyperparameters


def _models(val_of, test_of=lambda *a: 0.5):
    rows = []
    for u in (0, 4):
        for modality, dphis in ((1, [None]), (2, [1, 3])):
            for dphi in dphis:
                for depth in (1, 2):
                    for seed in (0, 1):
                        for lr in (1e-3, 1e-2):
                            for wd in (0.0, 0.1):
                                args = (u, modality, dphi, depth, seed, lr, wd)
                                rows.append(
                                    dict(
                                        u=u,
                                        modality=modality,
                                        dphi=dphi,
                                        depth=depth,
                                        seed=seed,
                                        lr=lr,
                                        wd=wd,
                                        val_score=val_of(*args),
                                        test_score=test_of(*args),
                                    )
                                )
    frame = pd.DataFrame(rows)
    frame["dphi"] = frame["dphi"].astype("Int64")
    return frame


def test_per_modality_picks_best_mean_validation_over_all_cells():
    # lr 1e-2 wins for u = 0 on average, though it loses at depth 2; lr 1e-3 wins for u = 4
    def val(u, modality, dphi, depth, seed, lr, wd):
        good = (lr == 1e-2) == (u == 0)
        return 0.9 if good and depth == 1 else (0.6 if good else 0.7) if depth == 2 else 0.5

    models = _models(val, test_of=lambda u, m, dphi, depth, seed, lr, wd: 1.0 if lr == 1e-3 else 0)
    selected = select_hyperparameters(models, "per_modality")
    chosen = models[selected].groupby(["u", "modality"])[["lr", "wd"]].agg(set)
    for (u, _), row in chosen.iterrows():
        assert row["lr"] == ({1e-2} if u == 0 else {1e-3})
        assert row["wd"] == {0.0}  # tie between wds: the first in grid order
    # one setting per group, all of its cells and seeds marked
    assert selected.sum() == len(models) // 4


def test_per_cell_selection_can_differ_between_depths():
    def val(u, modality, dphi, depth, seed, lr, wd):
        return 0.9 if (lr == 1e-2) == (depth == 1) and wd == 0.1 else 0.5

    models = _models(val)
    selected = select_hyperparameters(models, "per_cell")
    picked = models[selected]
    assert set(picked.loc[picked.depth == 1, "lr"]) == {1e-2}
    assert set(picked.loc[picked.depth == 2, "lr"]) == {1e-3}
    assert set(picked["wd"]) == {0.1}


def test_a_setting_whose_members_all_diverged_is_never_chosen():
    def val(u, modality, dphi, depth, seed, lr, wd):
        return np.nan if lr == 1e-2 else 0.3

    selected = select_hyperparameters(_models(val), "per_modality")
    assert set(_models(val)[selected]["lr"]) == {1e-3}


def _partly_diverged(modality_column):
    """Setting A: 4 of 5 seeds diverged (NaN), 1 at 0.9; setting B: 5 seeds at 0.6."""
    rows = [dict(lr=1e-2, wd=0.0, seed=s, val_score=0.9 if s == 0 else np.nan) for s in range(5)]
    rows += [dict(lr=1e-3, wd=0.0, seed=s, val_score=0.6) for s in range(5)]
    return pd.DataFrame(rows).assign(**modality_column)


def test_one_rule_in_every_study_a_diverged_member_counts_as_a_failure():
    from alignlab.experiments.selection import select_hyperparameters as shared
    from alignlab.studies.multibench.jobs import select_hyperparameters as multibench

    synthetic = _partly_diverged({"u": 0, "modality": "x2", "dphi": 1, "depth": 1})
    mb = _partly_diverged({"modality": "text"})
    for picked in (
        select_hyperparameters(synthetic, "per_modality"),
        select_hyperparameters(synthetic, "per_cell"),
        multibench(mb),
        shared(mb, ["modality"]),  # the diagnostic's call
    ):
        # the mean of A counting failures as 0 is 0.18 < 0.6: the steady setting wins
        assert picked.tolist() == [False] * 5 + [True] * 5


def test_a_diverged_member_is_worse_than_any_finite_score_when_failure_is_minus_inf():
    from alignlab.experiments.selection import select_hyperparameters as shared

    mb = _partly_diverged({"modality": "text"})
    mb.loc[5:, "val_score"] = -5.0  # e.g. a negative loss: 0 would be a good score here
    picked = shared(mb, ["modality"], failure_score=-np.inf)
    assert picked.tolist() == [False] * 5 + [True] * 5
