"""The paper's synthetic findings, one by one: does this run reproduce each of them?

The paper states seven findings on its synthetic data (Figures 4, 6, 7 left, centre and right, 9
and 10). Each is checked here with one statistic and its 95% bootstrap interval, and a rule fixed
before any run was looked at:

=====================  ======================================================================
outcome                rule
=====================  ======================================================================
``reproduced``         every interval the finding needs lies on the paper's side of 0 (and a
                       "weaker at high U" part holds, see each check)
``partly``             the low-uniqueness part holds, the rest does not (or holds at some
                       levels only, for "at every level" findings)
``not shown``          an interval the finding needs includes 0
``opposite``           the main interval lies on the other side of 0
``withheld``           the finding ranks models by accuracy and the run's modality-2 models had
                       not finished learning (``withheld``)
``untestable``         the run lacks what the finding needs (levels, performance)
=====================  ======================================================================

The statistics are Spearman correlations (``alignlab.stats.correlation``) or medians of them
(``alignlab.stats.median_ci``); "the lowest U" and "the highest U" are those of the run.

Figure 10 ("the maximum falls with D_phi", in each U panel) is checked at the U levels whose
alignment is above chance (``alignlab.analysis.chance``), the others named: at a level where
no encoder pair is above chance there is no achievable alignment to fall, and the bootstrap
interval of a median over five levels always reaches the one level whose correlation is a coin
flip. Runs without a permutation null keep every level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t
from alignlab.stats import Correlation, Median, correlation, median_ci

REPRODUCED, PARTLY, NOT_SHOWN, OPPOSITE, WITHHELD, UNTESTABLE = (
    "reproduced",
    "partly",
    "not shown",
    "opposite",
    "withheld",
    "untestable",
)
OUTCOMES = (REPRODUCED, PARTLY, NOT_SHOWN, OPPOSITE, WITHHELD, UNTESTABLE)


@dataclass(frozen=True)
class PaperFinding:
    """One finding of the paper on this run: ``figure`` ("Figure 4"), the ``claim`` in plain
    words, the ``outcome`` (one of :data:`OUTCOMES`), the ``evidence`` (numbers) and ``main``,
    the statistic whose interval decides the finding's first part (None when untestable)."""

    figure: str
    claim: str
    outcome: str
    evidence: str
    main: Correlation | Median | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "main"}


def _side(low: float | None, high: float | None, sign: int) -> str:
    """REPRODUCED when the interval lies on ``sign``'s side of 0, OPPOSITE on the other."""
    if low is None or high is None:
        return NOT_SHOWN
    if (sign > 0 and low > 0) or (sign < 0 and high < 0):
        return REPRODUCED
    if (sign > 0 and high < 0) or (sign < 0 and low > 0):
        return OPPOSITE
    return NOT_SHOWN


def _fmt(c: Correlation | Median) -> str:
    if c.value is None:
        return f"undefined (n = {c.n})"
    interval = "" if c.low is None else f" [{c.low:.2f}, {c.high:.2f}]"
    return f"{c.value:.2f}{interval} (n = {c.n})"


def _weaker(low_u: Correlation, high_u: Correlation) -> bool:
    """The high-U correlation is below the low-U interval (or undefined there)."""
    return high_u.value is None or (low_u.low is not None and high_u.value < low_u.low)


def _two_level(
    low_c: Correlation, high_c: Correlation, lo: int, hi: int
) -> tuple[str, str, Correlation]:
    """Outcome, evidence and main statistic of "positive at the lowest U, weaker at the
    highest"."""
    first = _side(low_c.low, low_c.high, +1)
    outcome = first
    if first == REPRODUCED and not _weaker(low_c, high_c):
        outcome = PARTLY
    return outcome, f"ρ at U = {lo}: {_fmt(low_c)}; at U = {hi}: {_fmt(high_c)}", low_c


def _max_trend(maxima: pd.DataFrame, over: str, by: str, n_boot: int) -> tuple[Median, int, int]:
    """Median over the levels of ``by`` of Spearman(``over``, max alignment); how many levels
    fall (interval below 0) and how many have a defined correlation."""
    trends = fd.max_trends(maxima, over=over, by=by, n_boot=n_boot)
    rho = trends[trends["method"] == "spearman"]
    falls = int((rho["high"] < 0).sum())
    return median_ci(rho["value"].tolist(), n_boot=n_boot), falls, int(rho["value"].notna().sum())


def _max_falls(figure: str, claim: str, maxima: pd.DataFrame, over: str, by: str, n_boot: int,
               partly: bool) -> PaperFinding:  # fmt: skip
    """"The maximum alignment falls with ``over``": the median over the levels of ``by`` of
    their Spearman(``over``, max), reproduced when its interval is below 0; with ``partly``,
    some levels falling on their own count as partly."""
    names = {t.U: "U", t.DPHI: "D_phi"}
    if maxima[over].nunique() < 3:
        return PaperFinding(figure, claim, UNTESTABLE, f"fewer than 3 {names[over]} levels")
    med, falls, n = _max_trend(maxima, over, by, n_boot)
    outcome = _side(med.low, med.high, -1)
    if partly and outcome == NOT_SHOWN and falls:
        outcome = PARTLY
    evidence = (
        f"median over {names[by]} of ρ({names[over]}, max alignment) {_fmt(med)}; falls at "
        f"{falls} of {n} {names[by]}"
    )
    return PaperFinding(figure, claim, outcome, evidence, med)


def _figure4(maxima: pd.DataFrame, n_boot: int) -> PaperFinding:
    claim = "Maximum alignment falls as uniqueness grows (at every heterogeneity)"
    return _max_falls("Figure 4", claim, maxima, t.U, t.DPHI, n_boot, partly=False)


def _figure10(maxima: pd.DataFrame, n_boot: int, at_chance: Sequence[int]) -> PaperFinding:
    """Checked at the U levels whose alignment is above chance: where every encoder pair is
    at chance there is no achievable alignment to fall, and its maxima over D_phi are the
    maxima of noise (the median over 5 levels cannot exclude one such level's coin flip)."""
    claim = "Maximum alignment falls as heterogeneity (D_phi) grows"
    left_out = sorted(set(int(u) for u in at_chance) & set(maxima[t.U].astype(int)))
    kept = maxima[~maxima[t.U].isin(left_out)]
    if kept.empty:
        return PaperFinding("Figure 10", claim, UNTESTABLE, "alignment is at chance at every U")
    found = _max_falls("Figure 10", claim, kept, t.DPHI, t.U, n_boot, partly=True)
    if left_out:
        levels = ", ".join(str(u) for u in left_out)
        found = replace(
            found, evidence=f"{found.evidence}; U = {levels} left out: not above chance"
        )
    return found


def _pooled(frame: pd.DataFrame, x, y: str, n_boot: int) -> Correlation:
    xs = x if isinstance(x, np.ndarray) else frame[x].to_numpy(float)
    return correlation(xs, frame[y].to_numpy(float), "spearman", n_boot)


def _figure6(f: pd.DataFrame, lo: int, hi: int, n_boot: int) -> PaperFinding:
    claim = (
        "At low uniqueness alignment rises with the encoder's depth relative to the transform "
        "(D_enc - D_phi); at high uniqueness much less"
    )
    if f[t.DEPTH2].nunique() < 2 or lo == hi:
        return PaperFinding("Figure 6", claim, UNTESTABLE, "one D_enc or one uniqueness level")

    def rel(u: int) -> Correlation:
        g = f[f[t.U] == u]
        return _pooled(g, (g[t.DEPTH2] - g[t.DPHI]).to_numpy(float), t.SCORE, n_boot)

    outcome, evidence, main = _two_level(rel(lo), rel(hi), lo, hi)
    evidence = "ρ(D_enc - D_phi, alignment), " + evidence
    return PaperFinding("Figure 6", claim, outcome, evidence, main)


def _falls_with_u(
    correlations: pd.DataFrame, kind: str, lo: int, n_boot: int, what: str
) -> tuple[str, str, Median]:
    """Positive at the lowest U (median over its correlations) and falling with U (Spearman
    between U and every correlation of ``kind``)."""
    c = correlations[(correlations["kind"] == kind) & (correlations["method"] == "spearman")]
    c = c.dropna(subset=["value"])
    first = median_ci(c.loc[c[t.U] == lo, "value"].tolist(), n_boot=n_boot)
    trend = correlation(c[t.U].to_numpy(float), c["value"].to_numpy(float), "spearman", n_boot)
    outcome = _side(first.low, first.high, +1)
    if outcome == REPRODUCED and _side(trend.low, trend.high, -1) != REPRODUCED:
        outcome = PARTLY
    evidence = (
        f"median {what} at U = {lo}: {_fmt(first)}; ρ(U, {what}) over the {len(c)} "
        f"correlations: {_fmt(trend)}"
    )
    return outcome, evidence, first


CLAIM_7L = (
    "Alignment tracks performance at low uniqueness; the correlation falls toward zero as "
    "uniqueness grows"
)
CLAIM_7C = "Performance rises with encoder depth at every uniqueness level"
CLAIM_7R = "Alignment rises with encoder depth at low uniqueness; less as uniqueness grows"
CLAIM_9 = (
    "With the deepest encoder, alignment and performance rise together across heterogeneity "
    "at low uniqueness, not at high"
)


def _figure7_left(correlations: pd.DataFrame, lo: int, n_boot: int) -> PaperFinding:
    found = _falls_with_u(
        correlations, fd.ALIGNMENT_PERFORMANCE, lo, n_boot, "ρ(alignment, accuracy)"
    )
    return PaperFinding("Figure 7 (left)", CLAIM_7L, *found)


def _figure7_centre(correlations: pd.DataFrame, n_depths: int, n_boot: int) -> PaperFinding:
    if n_depths < 3:  # a correlation across D_enc needs 3 or more
        return PaperFinding("Figure 7 (centre)", CLAIM_7C, UNTESTABLE, "fewer than 3 D_enc levels")
    c = correlations[
        (correlations["kind"] == fd.DEPTH_PERFORMANCE) & (correlations["method"] == "spearman")
    ]
    meds = {u: median_ci(g["value"].tolist(), n_boot=n_boot) for u, g in c.groupby(t.U)}
    up = [u for u, m in meds.items() if _side(m.low, m.high, +1) == REPRODUCED]
    outcome = REPRODUCED if len(up) == len(meds) else PARTLY if up else NOT_SHOWN
    u_min, m_min = min(meds.items(), key=lambda kv: np.inf if kv[1].value is None else kv[1].value)
    evidence = (
        f"median ρ(depth, accuracy) above 0 at {len(up)} of {len(meds)} U; lowest at U = "
        f"{u_min}: {_fmt(m_min)}"
    )
    return PaperFinding("Figure 7 (centre)", CLAIM_7C, outcome, evidence, m_min)


def _figure7_right(correlations: pd.DataFrame, n_depths: int, lo: int, n_boot: int) -> PaperFinding:
    if n_depths < 3:
        return PaperFinding("Figure 7 (right)", CLAIM_7R, UNTESTABLE, "fewer than 3 D_enc levels")
    found = _falls_with_u(correlations, fd.ALIGNMENT_DEPTH, lo, n_boot, "ρ(depth, alignment)")
    return PaperFinding("Figure 7 (right)", CLAIM_7R, *found)


def _figure9(f: pd.DataFrame, lo: int, hi: int, n_boot: int) -> PaperFinding:
    deepest = f[f[t.DEPTH2] == f[t.DEPTH2].max()]
    if deepest[t.DPHI].nunique() < 3 or lo == hi:
        return PaperFinding("Figure 9", CLAIM_9, UNTESTABLE, "fewer than 3 D_phi levels")

    def at(u: int) -> Correlation:
        return _pooled(deepest[deepest[t.U] == u], t.SCORE, t.PERF2, n_boot)

    outcome, evidence, main = _two_level(at(lo), at(hi), lo, hi)
    depth = int(deepest[t.DEPTH2].iloc[0])
    evidence = f"ρ(alignment, accuracy) of D_enc = {depth} over (D_phi, seed), {evidence}"
    return PaperFinding("Figure 9", CLAIM_9, outcome, evidence, main)


def paper_findings(
    points: fd.Points,
    maxima: pd.DataFrame,
    correlations: pd.DataFrame | None,
    n_boot: int = 1000,
    withheld: str | None = None,
    at_chance: Sequence[int] = (),
) -> list[PaperFinding]:
    """The paper's seven synthetic findings checked on this run, in the paper's order.

    ``points``, ``maxima`` and ``correlations`` are those of the report
    (:func:`~alignlab.analysis.figure_data.select_points`, ``max_alignment``,
    ``correlation_table``; None without performance); ``withheld``: the reason the findings
    that rank models by accuracy are not stated, or None; ``at_chance``: the U levels whose
    encoder pairs are not above chance (the ``above_chance`` column of
    :func:`~alignlab.analysis.chance.chance_by_u`), which Figure 10 leaves out.
    """
    f = points.frame.dropna(subset=[t.SCORE])
    lo, hi, n_depths = int(f[t.U].min()), int(f[t.U].max()), f[t.DEPTH2].nunique()
    missing = None if correlations is not None and t.PERF2 in f.columns else "no performance"

    def by_accuracy(figure: str, claim: str, check) -> PaperFinding:
        if missing or withheld:
            return PaperFinding(figure, claim, UNTESTABLE if missing else WITHHELD,
                                missing or withheld)  # fmt: skip
        return check()

    return [
        _figure4(maxima, n_boot),
        _figure6(f, lo, hi, n_boot),
        by_accuracy("Figure 7 (left)", CLAIM_7L, lambda: _figure7_left(correlations, lo, n_boot)),
        by_accuracy("Figure 7 (centre)", CLAIM_7C,
                    lambda: _figure7_centre(correlations, n_depths, n_boot)),  # fmt: skip
        _figure7_right(correlations, n_depths, lo, n_boot) if correlations is not None
        else PaperFinding("Figure 7 (right)", CLAIM_7R, UNTESTABLE, "no performance"),
        by_accuracy("Figure 9", CLAIM_9, lambda: _figure9(f, lo, hi, n_boot)),
        _figure10(maxima, n_boot, at_chance),
    ]


def findings_sentence(found: list[PaperFinding]) -> str:
    """One sentence counting the outcomes, e.g. "This run reproduces 5 of the paper's 7
    synthetic findings (Figures 4, ...); partly: Figure 10; not shown: Figure 9."."""
    by = {o: [f.figure for f in found if f.outcome == o] for o in OUTCOMES}
    text = (
        f"This run reproduces {len(by[REPRODUCED])} of the paper's {len(found)} synthetic "
        "findings" + (f" ({', '.join(by[REPRODUCED])})" if by[REPRODUCED] else "")
    )
    rest = [f"{o}: {', '.join(figs)}" for o, figs in by.items() if o != REPRODUCED and figs]
    return text + ("; " + "; ".join(rest) if rest else "") + " (table below)."


def findings_table(found: list[PaperFinding]) -> pd.DataFrame:
    """Columns ``figure, claim, outcome, evidence``, one row per finding."""
    return pd.DataFrame([f.as_dict() for f in found], columns=["figure", "claim", "outcome",
                                                                "evidence"])  # fmt: skip
