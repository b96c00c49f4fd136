"""Is the synthetic study's alignment above chance, and do its findings survive calibration?

Every alignment row carries the permutation null of its score (the maximum over layer pairs):
``null_mean`` (the chance level of that maximum), ``calibrated`` = ``score - null_mean`` and an
add-one ``p_value`` (``docs/tables.md``). From them, per uniqueness level: how many encoder
pairs are above chance, whether that count is more than chance alone would give (a one-sided
binomial test against the level ``alpha``), and the paper's trends recomputed on calibrated
alignment, so a reader sees whether "maximum alignment falls with uniqueness" is a property of
the representations or of the chance level moving with the models.

Every sentence is generated from the numbers it states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t

NULL_MEAN, CALIBRATED, P_VALUE, PERMUTATIONS = (
    "null_mean",
    "calibrated",
    "p_value",
    "null_permutations",
)
ALPHA = 0.05  # per-pair level, and the level of the per-U binomial test


@dataclass(frozen=True)
class ChanceByU:
    """Per uniqueness level: ``table`` has columns ``u``, ``pairs``, ``above`` (pairs with
    ``p_value <= alpha``), ``binomial_p`` (one-sided, of that many or more under chance),
    ``above_chance`` (``binomial_p <= alpha``), ``median_score``, ``median_chance`` (median
    ``null_mean``) and ``median_calibrated``; ``permutations`` is the null's size."""

    table: pd.DataFrame
    permutations: int
    alpha: float


def chance_rows(alignments: pd.DataFrame, points: fd.Points) -> pd.DataFrame | None:
    """The alignment rows behind ``points`` (same metric and modality-1 depth) with their null
    columns; None for runs written without a null (older runs, or ``null_permutations: 0``)."""
    need = [t.U, t.SCORE, NULL_MEAN, CALIBRATED, P_VALUE]
    if any(c not in alignments.columns for c in need):
        return None
    rows = alignments
    if t.METRIC in rows.columns:
        rows = rows[rows[t.METRIC] == points.metric]
    if points.depth1 is not None and t.DEPTH1 in rows.columns:
        rows = rows[rows[t.DEPTH1] == points.depth1]
    rows = rows.dropna(subset=[P_VALUE])
    return rows if len(rows) else None


def chance_by_u(rows: pd.DataFrame, alpha: float = ALPHA) -> ChanceByU:
    """Count the encoder pairs above chance per uniqueness level (see :class:`ChanceByU`).

    >>> rows = pd.DataFrame({"u": [0] * 4 + [8] * 4, "score": [.5] * 4 + [.2] * 4,
    ...     "null_mean": [.2] * 8, "calibrated": [.3] * 4 + [0.] * 4,
    ...     "p_value": [.01] * 4 + [.5, .3, .04, .9], "null_permutations": [99] * 8})
    >>> c = chance_by_u(rows).table
    >>> c[["u", "pairs", "above", "above_chance"]].values.tolist()
    [[0, 4, 4, True], [8, 4, 1, False]]
    """
    out = []
    for u, g in rows.groupby(t.U):
        above = int((g[P_VALUE] <= alpha).sum())
        test = binomtest(above, len(g), alpha, alternative="greater")
        out.append(
            {
                t.U: int(u),
                "pairs": len(g),
                "above": above,
                "binomial_p": float(test.pvalue),
                "above_chance": bool(test.pvalue <= alpha),
                "median_score": float(g[t.SCORE].median()),
                "median_chance": float(g[NULL_MEAN].median()),
                "median_calibrated": float(g[CALIBRATED].median()),
            }
        )
    perms = int(rows[PERMUTATIONS].min()) if PERMUTATIONS in rows.columns else 0
    return ChanceByU(pd.DataFrame(out), perms, alpha)


def calibrated_points(points: fd.Points, rows: pd.DataFrame) -> fd.Points:
    """``points`` with the score replaced by the calibrated score (seed-level means as
    :func:`~alignlab.analysis.figure_data.select_points` takes them)."""
    keys = fd.POINT_KEYS
    frame = rows[keys + [CALIBRATED]].astype({k: "int64" for k in keys})
    frame = frame.groupby(keys, as_index=False)[CALIBRATED].mean()
    merged = points.frame.drop(columns=[t.SCORE]).merge(frame, on=keys, how="inner")
    merged = merged.rename(columns={CALIBRATED: t.SCORE})
    return fd.Points(merged, points.metric, points.depth1)


def _levels(values: list[int]) -> str:
    return "U = " + ", ".join(map(str, values)) if values else "no level"


def chance_sentences(c: ChanceByU) -> list[str]:
    """Where alignment is above chance, and where it is not, with the counts."""
    tab = c.table
    per_u = "; ".join(
        f"U = {r.u}: {r.above} of {r.pairs}" for r in tab.itertuples()
    )
    head = (
        f"Chance: each score is compared with the permutation null of the maximum over its "
        f"layer pairs ({c.permutations} shuffled pairings). Pairs above chance (add-one "
        f"p <= {c.alpha:g}): {per_u}."
    )
    below = tab[~tab["above_chance"]]
    if below.empty:
        tail = (
            f"At every uniqueness level more pairs are above chance than chance alone gives "
            f"(one-sided binomial test at {c.alpha:g})."
        )
    else:
        parts = [
            f"U = {r.u} (median score {r.median_score:.3f} against a chance level of "
            f"{r.median_chance:.3f})"
            for r in below.itertuples()
        ]
        tail = (
            f"Alignment is not above chance at {'; '.join(parts)}: no more pairs pass than "
            f"chance alone gives (one-sided binomial test at {c.alpha:g}), so those scores "
            "measure no shared structure."
        )
    return [head, tail]


def survival_sentence(raw: pd.DataFrame, calibrated: pd.DataFrame, method: str) -> str:
    """Whether the trend of the maximum over U (one correlation per D_phi, from
    :func:`~alignlab.analysis.figure_data.max_trends`) keeps its direction on calibrated
    alignment."""
    def falls(frame: pd.DataFrame) -> list[int]:
        s = frame[frame["method"] == method]
        return sorted(int(r.dphi) for r in s.itertuples() if r.high is not None and r.high < 0)

    def median(frame: pd.DataFrame) -> float:
        s = frame[frame["method"] == method]["value"].dropna().astype(float)
        return float(np.median(s)) if len(s) else float("nan")

    raw_falls, cal_falls = falls(raw), falls(calibrated)
    total = int((raw["method"] == method).sum())
    kept = sorted(set(raw_falls) & set(cal_falls))
    if raw_falls and len(kept) == len(raw_falls):
        verdict = "survives calibration"
    elif kept:
        verdict = "partly survives calibration"
    elif raw_falls:
        verdict = "does not survive calibration"
    elif cal_falls:
        verdict = "appears only after calibration"
    else:
        verdict = "is not shown on raw alignment, and calibration does not change that"
    return (
        f"\"Maximum alignment falls with uniqueness\" {verdict}: on raw scores it falls "
        f"(interval below 0) at D_phi in {raw_falls or 'none'} of {total}; on calibrated "
        f"scores (score minus its chance level) at D_phi in {cal_falls or 'none'}; median "
        f"{method.capitalize()} {median(raw):.2f} raw and {median(calibrated):.2f} calibrated."
    )


def chance_findings(
    alignments: pd.DataFrame,
    points: fd.Points,
    maxima: pd.DataFrame,
    n_boot: int = 1000,
    withheld: str | None = None,
) -> tuple[list[str], pd.DataFrame | None]:
    """The report's chance sentences and per-U chance table (:func:`chance_by_u`) for the
    metric and depth of ``points``; ``maxima`` is :func:`~alignlab.analysis.figure_data.
    max_alignment` of ``points``. A run without a null gets one sentence saying so and no
    table. ``withheld`` (a reason) leaves out the calibrated relation to performance."""
    rows = chance_rows(alignments, points)
    if rows is None:
        return [
            "No chance level: these alignments carry no permutation null (an older run, or "
            "null_permutations: 0), so no score here can be told from chance."
        ], None
    chance = chance_by_u(rows)
    said = chance_sentences(chance)
    cal_points = calibrated_points(points, rows)
    if points.frame[t.U].nunique() >= 2:
        calibrated = fd.max_alignment(cal_points)
        raw = fd.max_trends(maxima, over=t.U, by=t.DPHI, n_boot=n_boot)
        cal = fd.max_trends(calibrated, over=t.U, by=t.DPHI, n_boot=n_boot)
        said.append(survival_sentence(raw, cal, "spearman"))
    if t.PERF2 in cal_points.frame.columns and not withheld:
        from alignlab.analysis.narrative import RELATIONS, relation_sentence, summary_by_u

        correlations = fd.correlation_table(cal_points, n_boot=n_boot)
        summary = summary_by_u(cal_points, correlations, n_boot=n_boot)
        column, _, x, how = RELATIONS[0]
        said.append(relation_sentence(summary, column, "Calibrated alignment", x, how))
    return said, chance.table
