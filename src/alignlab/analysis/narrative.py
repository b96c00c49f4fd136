"""What the data shows: the summary table per uniqueness level and sentences generated from it.

Nothing here is written by hand about the results: each sentence is chosen by the direction of
a correlation or median, judged by its bootstrap interval (above 0, below 0, or including 0),
and carries its numbers, so it stays true whichever way the data goes.
"""

from __future__ import annotations

import math

import pandas as pd

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t
from alignlab.stats import Correlation, Median, median_ci

TREND_METHOD = "spearman"


def summary_by_u(
    points: fd.Points, correlations: pd.DataFrame | None, n_boot: int = 1000
) -> pd.DataFrame:
    """One row per uniqueness level.

    Columns: ``u``; ``max_score`` and where it is (``max_dphi``, ``max_depth2``); ``n_points``;
    and, when performance is present, :class:`~alignlab.stats.Median` objects:

    - ``ap_spearman``, ``ap_pearson``: median over D_phi of the pooled corr(alignment,
      performance) of each D_phi, with a percentile bootstrap interval of that median
      (resampling the D_phi values);
    - ``dp_spearman``: median over (D_phi, seed) of corr(depth, performance), same interval;
    - ``ad_spearman``: median over (D_phi, seed) of corr(alignment, depth), same interval.
    """
    f = points.frame.dropna(subset=[t.SCORE])
    at = f.loc[f.groupby(t.U)[t.SCORE].idxmax()].set_index(t.U)
    out = pd.DataFrame(
        {
            "max_score": at[t.SCORE],
            "max_dphi": at[t.DPHI],
            "max_depth2": at[t.DEPTH2],
            "n_points": points.frame.groupby(t.U).size(),
        }
    ).reset_index()
    if correlations is None:
        return out
    for column, kind, method in (
        ("ap_spearman", fd.ALIGNMENT_PERFORMANCE, "spearman"),
        ("ap_pearson", fd.ALIGNMENT_PERFORMANCE, "pearson"),
        ("dp_spearman", fd.DEPTH_PERFORMANCE, "spearman"),
        ("ad_spearman", fd.ALIGNMENT_DEPTH, "spearman"),
    ):
        c = correlations[(correlations["kind"] == kind) & (correlations["method"] == method)]
        out[column] = [
            median_ci(c.loc[c[t.U] == u, "value"].tolist(), n_boot=n_boot) for u in out[t.U]
        ]
    return out


def _direction(low: float | None, high: float | None) -> str:
    if low is not None and low > 0:
        return "up"
    if high is not None and high < 0:
        return "down"
    return "flat"


def _levels(name: str, values: list[str]) -> str:
    return f"{name} = {', '.join(values)}" if values else "none"


def _trend_sentence(trends: pd.DataFrame, level: str, thing: str, over: str) -> str:
    """How the maximum alignment moves with ``over`` across the levels of ``level``."""
    s = trends[trends["method"] == TREND_METHOD].sort_values(level)
    names = {t.U: "U", t.DPHI: "D_phi"}
    dirs: dict[str, list[str]] = {"down": [], "up": [], "flat": [], "undefined": []}
    for row in s.itertuples():
        key = "undefined" if pd.isna(row.value) else _direction(row.low, row.high)
        dirs[key].append(str(getattr(row, level)))
    total, name = len(s), names[level]
    if len(dirs["undefined"]) == total:
        reason = s["reason"].dropna().iloc[0] if s["reason"].notna().any() else "undefined"
        return (
            f"Maximum alignment against {thing}: undefined at every {name} ({reason}: a trend "
            f"needs 3 or more {names[over]} levels)."
        )
    if len(dirs["down"]) == total or len(dirs["up"]) == total:
        verb = "falls" if dirs["down"] else "rises"
        head = f"Maximum alignment {verb} with {thing} at every {name} ({total} of {total})"
    else:
        head = f"Maximum alignment against {thing}, per {name}: falls at "
        head += f"{_levels(name, dirs['down'])}; rises at {_levels(name, dirs['up'])}; no clear "
        head += f"trend (interval includes 0) at {_levels(name, dirs['flat'])}"
        if dirs["undefined"]:
            head += f"; undefined at {_levels(name, dirs['undefined'])}"
    first = s.iloc[0]
    c = Correlation(**first[["method", "value", "low", "high", "n", "reason"]].to_dict())
    example = f"Spearman between {names[over]} and the maximum at {name} = {first[level]}: {c}"
    values = s["value"].dropna().astype(float)
    span = ""
    if len(values) > 1 and values.min() != values.max():
        span = f"; ρ ranges from {values.min():.2f} to {values.max():.2f}"
    return f"{head}. {example}{span}."


VERBS = {"up": "tracks", "down": "runs against", "flat": "shows no clear relation to"}


def _median_phrase(m: Median) -> str:
    if m.value is None:
        return "no defined correlation"
    interval = "" if m.low is None else f" [{m.low:.2f}, {m.high:.2f}]"
    return f"median ρ = {m.value:.2f}{interval}, n = {m.n}"


def relation_sentence(summary: pd.DataFrame, column: str, y: str, x: str, how: str) -> str:
    """Whether ``y`` tracks ``x`` at the lowest and highest U, and where the median is > 0."""
    dirs: dict[str, list[str]] = {"up": [], "down": [], "flat": []}
    verb: dict[int, str] = {}
    for row in summary.itertuples():
        m: Median = getattr(row, column)
        d = "flat" if m.value is None else _direction(m.low, m.high)
        verb[row.u] = VERBS[d]
        if m.value is not None:
            dirs[d].append(str(row.u))
    lo, hi = summary.iloc[0], summary.iloc[-1]
    text = f"{y} {verb[lo.u]} {x} at U = {lo.u} ({_median_phrase(lo[column])})"
    if hi.u != lo.u:
        text += f"; at U = {hi.u} it {verb[hi.u]} {x} ({_median_phrase(hi[column])})"
    text += f". The median is above 0 at {_levels('U', dirs['up'])}; below 0 at "
    text += f"{_levels('U', dirs['down'])}; its interval includes 0 at {_levels('U', dirs['flat'])}"
    text += f" ({how})."
    return text


RELATIONS = (
    ("ap_spearman", "Alignment", "performance",
     "Spearman over all D_enc x seeds of each D_phi, median over D_phi, 95% bootstrap interval"),
    ("dp_spearman", "Performance", "encoder depth",
     "Spearman across D_enc for each D_phi and seed, median over them"),
    ("ad_spearman", "Alignment", "encoder depth",
     "Spearman across D_enc for each D_phi and seed, median over them"),
)  # fmt: skip


def run_size_sentence(frame: pd.DataFrame) -> str:
    """Whether the run's grid can support its trends: a trend over ``k`` levels is a rank
    correlation of ``k`` maxima, and a perfect ranking of ``k`` points in one direction arises
    by chance with probability ``1 / k!``; claims need that at or below 0.05 (``k >= 4``), and
    a median over D_phi needs 3 or more D_phi values for its interval to mean anything.

    >>> f = pd.DataFrame({"u": [0, 4, 8], "dphi": [1, 1, 1], "depth_b": [1, 1, 1],
    ...                   "seed_b": [0, 0, 0]})
    >>> print(run_size_sentence(f))  # doctest: +NORMALIZE_WHITESPACE
    Run size: 3 uniqueness levels x 1 D_phi x 1 D_enc x 1 seed(s). Too small to support its
    trends: a trend over U rests on 3 maxima, and a perfect ranking of 3 points arises by
    chance 1 time in 6; over D_phi, no trend (1 level); the medians over D_phi rest on 1
    value. Read them as indicative only.
    """
    n_u, n_d = frame[t.U].nunique(), frame[t.DPHI].nunique()
    head = (
        f"Run size: {n_u} uniqueness levels x {n_d} D_phi x {frame[t.DEPTH2].nunique()} D_enc "
        f"x {frame[t.SEED2].nunique()} seed(s)."
    )
    weak = []
    for name, k in (("U", n_u), ("D_phi", n_d)):
        if k < 2:
            weak.append(f"over {name}, no trend ({k} level)")
        elif k < 4:
            weak.append(
                f"a trend over {name} rests on {k} maxima, and a perfect ranking of {k} points "
                f"arises by chance 1 time in {math.factorial(k)}"
            )
    if n_d < 3:
        weak.append(f"the medians over D_phi rest on {n_d} value{'s' if n_d > 1 else ''}")
    if not weak:
        return (
            f"{head} Large enough for its trends: each rests on 4 or more levels (a perfect "
            "ranking by chance at most 1 time in 24) and the medians on 3 or more D_phi."
        )
    return f"{head} Too small to support its trends: {'; '.join(weak)}. Read them as " \
        "indicative only."


PERFORMANCE_RELATIONS = ("ap_spearman", "dp_spearman")  # rank models by their test accuracy


def findings(
    points: fd.Points,
    maxima: pd.DataFrame,
    summary: pd.DataFrame,
    n_boot: int = 1000,
    spec_uniqueness: list[int] | None = None,
    withheld: str | None = None,
) -> list[str]:
    """Sentences stating what the data shows, each computed from the numbers.

    ``withheld`` (a reason, e.g. that the modality-2 models are undertrained) replaces the
    relations that rank models by performance (:data:`PERFORMANCE_RELATIONS`) with a sentence
    saying why they are not stated."""
    f = points.frame
    us = sorted(f[t.U].unique())
    out = [
        f"{len(f)} encoder pairs ({points.metric}"
        + ("" if points.depth1 is None else f", modality-1 depth {points.depth1}")
        + f"): U = {', '.join(map(str, us))}; D_phi = "
        + ", ".join(map(str, sorted(f[t.DPHI].unique())))
        + f"; D_enc = {', '.join(map(str, sorted(f[t.DEPTH2].unique())))}; "
        + f"{f[t.SEED2].nunique()} seed(s)."
    ]
    out.append(run_size_sentence(f))
    absent = sorted(set(spec_uniqueness or []) - set(us))
    if absent:
        out.append(f"The spec lists U = {', '.join(map(str, absent))} but the results have none.")
    top, bottom = summary.iloc[0], summary.iloc[-1]
    out.append(
        f"Maximum alignment at U = {top.u}: {top.max_score:.3f} (D_phi = {top.max_dphi}, "
        f"D_enc = {top.max_depth2}); at U = {bottom.u}: {bottom.max_score:.3f} "
        f"(D_phi = {bottom.max_dphi}, D_enc = {bottom.max_depth2})."
    )
    if len(us) >= 2:
        trend_u = fd.max_trends(maxima, over=t.U, by=t.DPHI, n_boot=n_boot)
        out.append(_trend_sentence(trend_u, t.DPHI, "uniqueness", t.U))
    if f[t.DPHI].nunique() >= 2:
        trend_dphi = fd.max_trends(maxima, over=t.DPHI, by=t.U, n_boot=n_boot)
        out.append(_trend_sentence(trend_dphi, t.U, "heterogeneity", t.DPHI))
    if "ap_spearman" in summary.columns:
        for column, y, x, how in RELATIONS:
            if withheld and column in PERFORMANCE_RELATIONS:
                out.append(f"Not stated: whether {y.lower()} tracks {x}, because {withheld}.")
            else:
                out.append(relation_sentence(summary, column, y, x, how))
    return out


def selection_sentence(models: pd.DataFrame) -> str:
    """How the run chose its (lr, wd), read from the models table: the rule (successive
    halving where rows carry a ``rung``), the seeds the settings were compared on (``searched``)
    and how many members early stopping ended before their epoch budget (``epochs_run``).

    >>> m = pd.DataFrame({"lr": [1, 2, 1, 1], "wd": 0, "seed": [0, 0, 1, 2],
    ...                   "searched": [True, True, False, False], "epochs": 10,
    ...                   "epochs_run": [10, 4, 10, 10], "diverged": False})
    >>> print(selection_sentence(m))  # doctest: +NORMALIZE_WHITESPACE
    Hyperparameters: 2 (lr, wd) settings, all given the same epoch budget and compared by mean
    validation accuracy (the exact rule), on seed 0 only; the selected setting was then trained
    on seeds 1, 2. Early stopping ended 1 of 4 members (25%) before their epoch budget.
    """
    n_settings = len(models[[t.LR, t.WD]].drop_duplicates())
    if "rung" in models and models["rung"].notna().any():
        rungs = int(models["rung"].max()) + 1
        how = (f"compared by successive halving over {rungs} rungs (the better half by mean "
               "validation accuracy going on at each)")  # fmt: skip
    else:
        how = "all given the same epoch budget and compared by mean validation accuracy"
        how += " (the exact rule)"
    text = f"Hyperparameters: {n_settings} (lr, wd) settings, {how}"
    if "searched" in models and not models["searched"].all():
        searched = models["searched"].astype(bool)
        text += (f", on {_seeds(models[searched])} only; the selected setting was then trained "
                 f"on {_seeds(models[~searched])}")  # fmt: skip
    text += "."
    if {"epochs_run", "epochs"} <= set(models.columns):
        diverged = models["diverged"].astype(bool) if "diverged" in models else False
        stopped = int(((models["epochs_run"] < models["epochs"]) & ~diverged).sum())
        if stopped:
            text += (f" Early stopping ended {stopped} of {len(models)} members "
                     f"({stopped / len(models):.0%}) before their epoch budget.")  # fmt: skip
    return text


def _seeds(rows: pd.DataFrame) -> str:
    values = sorted(int(s) for s in rows[t.SEED].unique())
    return f"seed{'s' if len(values) > 1 else ''} {', '.join(map(str, values))}"
