"""Hyperparameter selection, one rule for every study.

Within each group (for example one uniqueness level and modality), the (lr, wd) setting with
the best mean validation score over its members (depths x seeds ...) is selected. A diverged
member (validation score NaN) counts as a failure, ``failure_score`` (0: no correct answer), so
an unstable setting is never chosen on one lucky seed. Ties go to the first setting in row
order (the grid order). Only validation scores are read.
"""

from __future__ import annotations

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
    missing = [c for c in [*by, "lr", "wd", score] if c not in models.columns]
    if missing:
        raise ValueError(f"selection needs columns {missing}; the models table lacks them")
    if models.empty:
        return pd.Series(dtype=bool, index=models.index)
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
        frame[g] = frame[g].map(lambda v: "<missing>" if pd.isna(v) else v)
    means = (
        frame.groupby([*groups, "lr", "wd"], sort=False)
        .agg(mean=("_v", "mean"), order=("_order", "min"))
        .reset_index()
        .sort_values(["mean", "order"], ascending=[False, True], kind="stable")
        .drop_duplicates(groups)
    )
    chosen = set(map(tuple, means[[*groups, "lr", "wd"]].to_numpy(object).tolist()))
    keys = map(tuple, frame[[*groups, "lr", "wd"]].to_numpy(object).tolist())
    return pd.Series([k in chosen for k in keys], index=models.index, dtype=bool)
