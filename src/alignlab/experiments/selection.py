"""Hyperparameter selection, one rule for every study.

Within each group (for example one uniqueness level and modality), the (lr, wd) setting with
the best mean validation score over its members (depths x seeds ...) is selected. A diverged
member (validation score NaN) counts as a failure, ``failure_score`` (0: no correct answer), so
an unstable setting is never chosen on one lucky seed. Ties go to the first setting in row
order (the grid order). Only validation scores are read.

:func:`halving_survivors` is the same rule applied at one rung of successive halving: within
each group, the better half of the settings (by the same mean, the same failures and ties) go on
to train longer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd


def select_hyperparameters(
    models: pd.DataFrame,
    by: Sequence[str],
    *,
    score: str = "val_score",
    failure_score: float = 0.0,
) -> pd.Series:
    """Mark the rows of every group's selected (lr, wd).

    Parameters
    ----------
    models : DataFrame with columns ``by``, ``lr``, ``wd`` and ``score``
        One row per trained member. A missing ``by`` value (for example modality 1's D_phi)
        is a group of its own.
    by : column names
        The groups that each get one setting.
    failure_score : float
        The score a diverged member (NaN) counts as.

    Returns
    -------
    Series of bool aligned with ``models``: True for rows of a selected setting.

    >>> m = pd.DataFrame({"modality": ["a"] * 10, "lr": [1] * 5 + [2] * 5, "wd": [0] * 10,
    ...                   "val_score": [0.9] + [float("nan")] * 4 + [0.6] * 5})
    >>> select_hyperparameters(m, ["modality"]).tolist()  # 1 lucky seed of 5 loses to 5 steady
    [False, False, False, False, False, True, True, True, True, True]
    """
    if models.empty:
        _check_columns(models, by, score)
        return pd.Series(dtype=bool, index=models.index)
    frame, means = _ranked(models, by, score, failure_score)
    groups = [f"_g{i}" for i in range(len(by))]
    means = means.drop_duplicates(groups)
    chosen = set(map(tuple, means[[*groups, "lr", "wd"]].to_numpy(object).tolist()))
    keys = map(tuple, frame[[*groups, "lr", "wd"]].to_numpy(object).tolist())
    return pd.Series([k in chosen for k in keys], index=models.index, dtype=bool)


def halving_survivors(
    models: pd.DataFrame,
    by: Sequence[str],
    *,
    keep: float = 0.5,
    score: str = "val_score",
    failure_score: float = 0.0,
) -> dict[tuple, list[tuple[float, float]]]:
    """The (lr, wd) settings of each group that survive one rung of successive halving.

    Settings are ranked as :func:`select_hyperparameters` ranks them (mean validation score
    over the group's members, a diverged member counting ``failure_score``, ties to the first
    in row order); the best ``ceil(keep * n)`` of a group's ``n`` settings survive (at least 1).

    Returns
    -------
    dict of group values (a tuple, one per ``by``; a missing value is None) -> the surviving
    (lr, wd), in row order (the grid's), so the next rung's members keep the grid's order.

    >>> m = pd.DataFrame({"u": [0] * 4, "lr": [1, 2, 3, 4], "wd": [0] * 4,
    ...                   "val_score": [0.5, 0.9, float("nan"), 0.7]})
    >>> halving_survivors(m, ["u"])
    {(0,): [(2, 0), (4, 0)]}
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if models.empty:
        _check_columns(models, by, score)
        return {}
    _, means = _ranked(models, by, score, failure_score)
    groups = [f"_g{i}" for i in range(len(by))]
    out = {}
    for key, ranked in means.groupby(groups, sort=False):
        n_keep = max(1, math.ceil(keep * len(ranked) - 1e-9))
        best = ranked.iloc[:n_keep].sort_values("order", kind="stable")
        group = tuple(None if v == _MISSING else v for v in key)
        out[group] = [(lr, wd) for lr, wd in best[["lr", "wd"]].itertuples(index=False)]
    return out


_MISSING = "<missing>"


def _check_columns(models: pd.DataFrame, by: Sequence[str], score: str) -> None:
    missing = [c for c in [*by, "lr", "wd", score] if c not in models.columns]
    if missing:
        raise ValueError(f"selection needs columns {missing}; the models table lacks them")


def _ranked(
    models: pd.DataFrame, by: Sequence[str], score: str, failure_score: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-row frame and the settings of every group, best first: (frame, means)."""
    _check_columns(models, by, score)
    frame = pd.DataFrame(
        {
            **{f"_g{i}": models[c].to_numpy(object) for i, c in enumerate(by)},
            "lr": models["lr"].to_numpy(),
            "wd": models["wd"].to_numpy(),
            "_v": models[score].astype(float).fillna(failure_score).to_numpy(),
            "_order": np.arange(len(models)),
        }
    )
    groups = [f"_g{i}" for i in range(len(by))]
    for g in groups:  # a missing value is its own group, equal to itself
        frame[g] = frame[g].map(lambda v: _MISSING if pd.isna(v) else v)
    means = (
        frame.groupby([*groups, "lr", "wd"], sort=False)
        .agg(mean=("_v", "mean"), order=("_order", "min"))
        .reset_index()
        .sort_values(  # best first within every group (groupby keeps this order)
            ["mean", "order"],
            ascending=[False, True],
            kind="stable",
        )
    )
    return frame, means
