"""The numbers behind each synthetic figure, as DataFrames (no plotting here).

Every function takes the alignments table (columns in :mod:`alignlab.analysis.tables`) and a
metric and modality-1 depth to analyse. The vocabulary of the figures: alignment = ``score``,
performance = ``perf_b`` (test accuracy of the modality-2 encoder), D_enc = ``depth_b``,
seeds = ``seed2``, U = ``u``, D_phi = ``dphi``; chance = ``null_mean`` (mean of the permutation
null of the maximum over layer pairs) and ``null_std``, in runs that stored the null.

One point is one modality-2 encoder (D_enc, seed) in one (U, D_phi) cell. When the table holds
several modality-1 seeds for the same point, their scores are averaged into one point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alignlab.analysis import tables as t
from alignlab.stats import Method, correlation

PAPER_DPHI_PANELS = (1, 3, 5, 7, 9)  # D_phi panels of the alignment-vs-U figure
PAPER_SCATTER_DPHIS = (3, 6, 9)  # D_phi values of the alignment-vs-performance scatters
NULL_MEAN = "null_mean"  # chance level of ``score``: mean of the permutation null of the maximum
NULL_STD = "null_std"  # standard deviation of that null
CHANCE_SDS = 2  # the chance band reaches null_mean + CHANCE_SDS * null_std
POINT_KEYS = [t.U, t.DPHI, t.DEPTH2, t.SEED2]
ALIGNMENT_PERFORMANCE = "alignment-performance"
DEPTH_PERFORMANCE = "depth-performance"
ALIGNMENT_DEPTH = "alignment-depth"
CORRELATION_KINDS = (ALIGNMENT_PERFORMANCE, DEPTH_PERFORMANCE, ALIGNMENT_DEPTH)


@dataclass(frozen=True)
class Points:
    """The points of one metric and modality-1 depth.

    ``frame`` has one row per (u, dphi, depth2, seed2) with ``score`` and, when the table has
    them, ``perf_b``, ``null_mean`` and ``null_std``; ``metric`` and ``depth_a`` say what was
    selected (``depth_a`` is None when the table has no ``depth_a`` column).
    """

    frame: pd.DataFrame
    metric: str
    depth1: int | None


def select_points(
    alignments: pd.DataFrame,
    metric: str | None = None,
    depth1: int | None = None,
    needs: tuple[str, ...] = (),
    what: str = "this analysis",
) -> Points:
    """Rows of one metric and modality-1 depth, one per (u, dphi, depth2, seed2).

    ``metric`` defaults to ``unbiased_cka``, or the first metric present; ``depth_a`` defaults
    to the smallest present. ``needs`` names extra columns (for example ``perf_b``) that the
    caller requires; missing ones raise :class:`~alignlab.analysis.tables.MissingColumnsError`.
    """
    t.require_columns(alignments, [*POINT_KEYS, t.SCORE, *needs], what)
    frame = alignments
    if t.METRIC in frame.columns:
        present = list(pd.unique(frame[t.METRIC]))
        if metric is None:
            metric = t.DEFAULT_METRIC if t.DEFAULT_METRIC in present else present[0]
        elif metric not in present:
            raise ValueError(f"metric {metric!r} is not in the results; present: {present}")
        frame = frame[frame[t.METRIC] == metric]
    elif metric is None:
        metric = t.SCORE
    if t.DEPTH1 in frame.columns:
        present_d = sorted(int(d) for d in pd.unique(frame[t.DEPTH1]))
        if depth1 is None:
            depth1 = present_d[0]
        elif depth1 not in present_d:
            raise ValueError(f"depth1 = {depth1} is not in the results; present: {present_d}")
        frame = frame[frame[t.DEPTH1] == depth1]
    else:
        depth1 = None
    values = [t.SCORE] + [c for c in (t.PERF2, NULL_MEAN, NULL_STD) if c in frame.columns]
    frame = frame[POINT_KEYS + values].dropna(subset=POINT_KEYS)
    if frame.empty:
        raise t.InsufficientDataError(f"{what}: no rows for metric {metric}, depth1 {depth1}")
    frame = frame.astype({k: "int64" for k in POINT_KEYS}).astype({v: float for v in values})
    frame = frame.groupby(POINT_KEYS, as_index=False)[values].mean()
    return Points(frame, str(metric), depth1)


def grouped_correlations(
    frame: pd.DataFrame,
    by: list[str],
    x: str,
    y: str,
    methods: tuple[Method, ...] = ("spearman", "pearson"),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """corr(x, y) within each group of ``by``, one row per group and method.

    Returns columns ``by + [method, value, low, high, n, reason, n_boot]``; an undefined
    correlation has NaN ``value`` (never 0) and a ``reason``.
    """
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for method in methods:
            c = correlation(group[x].to_numpy(), group[y].to_numpy(), method, n_boot, seed=seed)
            rows.append({**dict(zip(by, keys, strict=True)), **c.as_dict()})
    columns = [*by, "method", "value", "low", "high", "n", "reason", "n_boot"]
    return pd.DataFrame(rows, columns=columns)


def max_alignment(points: Points) -> pd.DataFrame:
    """The maximum alignment of each (u, dphi) cell over its D_enc x seeds points.

    Returns columns ``u, dphi, max_score, depth2, seed2`` (where the maximum is) and ``n``
    (points in the cell), one row per cell present, sorted by (dphi, u).
    """
    f = points.frame.dropna(subset=[t.SCORE])
    at = f.loc[f.groupby([t.U, t.DPHI])[t.SCORE].idxmax()]
    n = f.groupby([t.U, t.DPHI]).size().rename("n").reset_index()
    out = at.rename(columns={t.SCORE: "max_score"})[[t.U, t.DPHI, "max_score", t.DEPTH2, t.SEED2]]
    return out.merge(n, on=[t.U, t.DPHI]).sort_values([t.DPHI, t.U], ignore_index=True)


def max_alignment_by_u(
    alignments: pd.DataFrame, metric: str | None = None, depth1: int | None = None
) -> pd.DataFrame:
    """:func:`max_alignment` of the selected points (what the alignment-vs-U figure marks)."""
    return max_alignment(select_points(alignments, metric, depth1, what="alignment vs U"))


def max_trends(
    maxima: pd.DataFrame, over: str, by: str, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """corr(``over``, max_score) within each level of ``by``, both methods.

    ``over=u, by=dphi`` is the trend of the maximum with uniqueness per D_phi;
    ``over=dphi, by=u`` is its trend with heterogeneity per U.
    """
    return grouped_correlations(maxima, [by], over, "max_score", n_boot=n_boot, seed=seed)


def seed_mean_alignment(points: Points) -> pd.DataFrame:
    """Alignment averaged over seeds: columns ``u, depth2, dphi, score, n_seeds``."""
    g = points.frame.groupby([t.U, t.DEPTH2, t.DPHI])[t.SCORE]
    return g.agg(score="mean", n_seeds="count").reset_index()


def correlation_table(
    points: Points, methods: tuple[Method, ...] = ("spearman", "pearson"), n_boot: int = 1000
) -> pd.DataFrame:
    """The correlations of the box plots, one row per (kind, u, dphi, seed2, method).

    - ``alignment-performance``: per (u, dphi), over all D_enc x seeds points pooled
      (``seed2`` is <NA>);
    - ``depth-performance`` and ``alignment-depth``: per (u, dphi, seed2), over the D_enc
      values of that seed.

    Columns: ``kind, u, dphi, seed2, method, value, low, high, n, reason, n_boot``.
    """
    f = points.frame
    pooled = grouped_correlations(f, [t.U, t.DPHI], t.SCORE, t.PERF2, methods, n_boot)
    pooled.insert(2, t.SEED2, pd.NA)
    parts = [pooled.assign(kind=ALIGNMENT_PERFORMANCE)]
    by_seed = [t.U, t.DPHI, t.SEED2]
    for kind, x, y in (
        (DEPTH_PERFORMANCE, t.DEPTH2, t.PERF2),
        (ALIGNMENT_DEPTH, t.SCORE, t.DEPTH2),
    ):
        parts.append(grouped_correlations(f, by_seed, x, y, methods, n_boot).assign(kind=kind))
    out = pd.concat(parts, ignore_index=True)
    out[t.SEED2] = out[t.SEED2].astype("Int64")
    return out[["kind", *out.columns.drop("kind")]]


def deepest_encoder(points: Points) -> pd.DataFrame:
    """Seed-averaged alignment and performance of the deepest modality-2 encoder per cell.

    Returns columns ``u, dphi, depth2, score, perf2, n_seeds``: one row per (u, dphi) that has
    an encoder of the largest D_enc present.
    """
    f = points.frame
    deepest = f[f[t.DEPTH2] == f[t.DEPTH2].max()]
    g = deepest.groupby([t.U, t.DPHI, t.DEPTH2])
    out = g[[t.SCORE, t.PERF2]].mean().join(g.size().rename("n_seeds"))
    return out.reset_index()


def pick_levels(present: list[int], preferred: tuple[int, ...], limit: int) -> list[int]:
    """The ``preferred`` levels that are present; else up to ``limit`` evenly spread ones.

    >>> pick_levels([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], (1, 3, 5, 7, 9), 6)
    [1, 3, 5, 7, 9]
    >>> pick_levels([2, 4, 6, 8, 10, 12, 14, 16], (1, 3, 5), 3)
    [2, 10, 16]
    """
    present = sorted(set(present))
    chosen = [p for p in preferred if p in present]
    if chosen or not present:
        return chosen
    if len(present) <= limit:
        return present
    idx = np.unique(np.round(np.linspace(0, len(present) - 1, limit)).astype(int))
    return [present[i] for i in idx]


def scatter_points(points: Points, dphis: list[int] | None = None) -> pd.DataFrame:
    """The points of the alignment-vs-performance scatters: :func:`scatter_dphis` by default.

    Returns the rows of ``points.frame`` whose dphi is chosen (columns u, dphi, depth2, seed2,
    score, perf2).
    """
    f = points.frame
    if dphis is None:
        dphis = scatter_dphis(points)
    return f[f[t.DPHI].isin(dphis)].reset_index(drop=True)


def has_chance(points: Points) -> bool:
    """Whether the points carry the permutation null (``null_mean``) of their scores."""
    f = points.frame
    return NULL_MEAN in f.columns and bool(f[NULL_MEAN].notna().any())


def chance_band(points: Points, by: list[str]) -> pd.DataFrame:
    """The chance band of each group of ``by``: columns ``by + [chance, chance_high]``.

    ``chance`` is the mean over the group's points of ``null_mean`` (the expected maximum over
    layer pairs with the pairing of samples shuffled); ``chance_high`` the mean of
    ``null_mean + CHANCE_SDS * null_std``. Empty when the points have no null.

    >>> f = pd.DataFrame({"u": [0, 0, 8], "dphi": 1, "depth_b": 1, "seed_b": [0, 1, 0],
    ...                   "score": .5, "null_mean": [.1, .3, .2], "null_std": [.01, .03, .0]})
    >>> chance_band(Points(f, "cka", 1), ["u"]).round(3).values.tolist()
    [[0.0, 0.2, 0.24], [8.0, 0.2, 0.2]]
    """
    if not has_chance(points):
        return pd.DataFrame(columns=[*by, "chance", "chance_high"])
    f = points.frame.dropna(subset=[NULL_MEAN])
    std = f[NULL_STD].fillna(0.0) if NULL_STD in f.columns else 0.0
    f = f.assign(chance=f[NULL_MEAN], chance_high=f[NULL_MEAN] + CHANCE_SDS * std)
    return f.groupby(by, as_index=False)[["chance", "chance_high"]].mean()


def uniqueness_panels(points: Points) -> list[int]:
    """The D_phi panels of the alignment-vs-U figure: 1, 3, 5, 7, 9 where present, else up to
    6 evenly spread levels of those run."""
    return pick_levels(points.frame[t.DPHI].unique().tolist(), PAPER_DPHI_PANELS, 6)


def scatter_dphis(points: Points) -> list[int]:
    """The D_phi rows of the alignment-vs-performance scatters: 3, 6, 9 where present, else up
    to 3 evenly spread levels of those run."""
    return pick_levels(points.frame[t.DPHI].unique().tolist(), PAPER_SCATTER_DPHIS, 3)


def levels_text(values) -> str:
    """``[3]`` -> "3"; ``[1, 3, 5]`` -> "1, 3 and 5" (sorted, as integers where whole).

    >>> levels_text([5, 1, 3]), levels_text([2]), levels_text([])
    ('1, 3 and 5', '2', 'none')
    """
    shown = [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in sorted(set(values))]
    if not shown:
        return "none"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
