"""Whether a run's models finished learning: the share of best-validation epochs that are the last.

A member keeps the weights of its best validation epoch. Once it has converged, validation
accuracy wanders on a plateau and the best epoch falls anywhere on it, so the last epoch is the
best for roughly one member in the plateau's length. When many selected members peak at the last
epoch they were still improving: the run is undertrained, and comparisons that need trained
models (accuracy against depth above all: a deeper encoder learns more slowly) do not hold.

:func:`convergence_summary` turns a ``models`` table (``docs/tables.md``) into one row per
(modality, depth) and warnings that carry the numbers.
"""

from __future__ import annotations

import pandas as pd

UNDERTRAINED_SHARE = (
    0.2  # more selected members than this peaking at the last epoch: still improving
)
REQUIRED = ("modality", "depth", "best_epoch", "epochs", "best_is_last", "diverged")
COLUMNS = [
    "modality",
    "depth",
    "n_selected",
    "n_best_last",
    "share_best_last",
    "median_best_epoch",
    "epochs",
    "n_diverged",
    "undertrained",
]


def convergence_summary(
    models: pd.DataFrame, threshold: float = UNDERTRAINED_SHARE
) -> tuple[pd.DataFrame, list[str]]:
    """Per (modality, depth), how many selected members kept their last epoch; warnings.

    Parameters
    ----------
    models : DataFrame with columns ``modality``, ``depth``, ``best_epoch``, ``epochs``,
        ``best_is_last`` and ``diverged``, and optionally ``selected``
        One row per trained member. Only selected members count where ``selected`` is present
        (the ones the findings are computed from); every member otherwise.
    threshold : float in [0, 1)
        A (modality, depth) whose share of selected members with ``best_is_last`` exceeds this
        is marked undertrained.

    Returns
    -------
    table : DataFrame with columns ``COLUMNS``
        One row per (modality, depth), sorted. ``share_best_last`` in [0, 1] (0 is best: no
        member was still improving); ``median_best_epoch`` is 0-based; ``epochs`` the most
        epochs a member of the group was given; diverged members count in ``n_diverged`` and
        not in ``n_best_last``.
    warnings : list of str
        One line per modality with an undertrained depth, naming the share, the depths and
        the epochs; empty when every group converged.

    >>> m = pd.DataFrame({"modality": ["x2"] * 4, "depth": [1, 1, 10, 10],
    ...                   "best_epoch": [3, 11, 11, 11], "epochs": [12] * 4,
    ...                   "best_is_last": [False, True, True, True], "diverged": [False] * 4})
    >>> table, warnings = convergence_summary(m)
    >>> table["share_best_last"].tolist()
    [0.5, 1.0]
    >>> warnings[0].startswith("x2 is undertrained: at 2 of 2 depths more than 20%")
    True
    >>> "(50% at depth 1, 100% at depth 10, of 12 epochs)" in warnings[0]
    True
    """
    missing = [c for c in REQUIRED if c not in models.columns]
    if missing:
        raise ValueError(f"convergence needs the models table's columns {missing}; it lacks them")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    frame = models
    if "selected" in models.columns:
        frame = models[models["selected"].astype(bool)]
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS), []
    frame = frame.assign(
        _last=frame["best_is_last"].astype(bool) & ~frame["diverged"].astype(bool),
        _div=frame["diverged"].astype(bool),
    )
    table = (
        frame.groupby(["modality", "depth"], sort=True)
        .agg(
            n_selected=("_last", "size"),
            n_best_last=("_last", "sum"),
            median_best_epoch=("best_epoch", "median"),
            epochs=("epochs", "max"),
            n_diverged=("_div", "sum"),
        )
        .reset_index()
    )
    table["share_best_last"] = table["n_best_last"] / table["n_selected"]
    table["undertrained"] = table["share_best_last"] > threshold
    table = table[COLUMNS].astype({"n_selected": int, "n_best_last": int, "n_diverged": int})
    return table, _warnings(table, threshold)


def _warnings(table: pd.DataFrame, threshold: float) -> list[str]:
    lines = []
    for modality, group in table.groupby("modality", sort=True):
        bad = group[group["undertrained"]]
        if bad.empty:
            continue
        shares = ", ".join(f"{r.share_best_last:.0%} at depth {r.depth}" for r in bad.itertuples())
        epochs = sorted(set(bad["epochs"].astype(int)))
        given = " / ".join(str(e) for e in epochs)
        lines.append(
            f"{modality} is undertrained: at {len(bad)} of {len(group)} depths more than "
            f"{threshold:.0%} of the selected models kept their last epoch ({shares}, of "
            f"{given} epochs); they were still improving, so accuracy and alignment against "
            "depth describe models that had not finished learning; train longer"
        )
    return lines


def undertrained_modalities(table: pd.DataFrame) -> list[str]:
    """Modalities of a :func:`convergence_summary` table with at least one undertrained depth.

    >>> t = pd.DataFrame({"modality": ["x1", "x2"], "undertrained": [False, True]})
    >>> undertrained_modalities(t)
    ['x2']
    """
    if table.empty:
        return []
    return sorted(table.loc[table["undertrained"].astype(bool), "modality"].unique().tolist())
