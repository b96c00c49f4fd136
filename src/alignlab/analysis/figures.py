"""The report's figures: which ones, their captions, and rendering them to PNG and SVG bytes.

Every caption is a function of the points the figure plots: it names the levels drawn (and
those run but not drawn), counts what it counts, and mentions the chance band only when the
figure draws it. No caption states a level or a number by hand.

A figure that cannot be drawn (a column it needs is missing, or there is too little data) is
skipped with the reason; the others are still drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from alignlab.analysis import figure_data as fd
from alignlab.analysis import performance_figures as pf
from alignlab.analysis import synthetic_figures as sf
from alignlab.analysis import tables as t


@dataclass(frozen=True)
class FigureEntry:
    """One figure of the report: file stem, title, caption and how to draw it.

    ``caption(points, method)`` writes the caption from the points the figure plots, so it names
    only the levels that are drawn; ``band`` says whether the figure draws the chance band.
    """

    name: str
    title: str
    caption: Callable[[fd.Points, str], str]
    draw: Callable[[fd.Points, pd.DataFrame | None, str], Figure]
    band: bool = True


@dataclass(frozen=True)
class RenderedFigure:
    """A drawn figure (``png`` and ``svg`` bytes) or a skipped one (``reason``); ``note`` is a
    remark shown under the caption (for example that no chance band could be drawn)."""

    name: str
    title: str
    caption: str
    png: bytes | None = None
    svg: bytes | None = None
    reason: str | None = None
    note: str | None = None


def _levels(points: fd.Points, column: str) -> list[int]:
    return sorted(int(v) for v in points.frame[column].unique())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _grid_words(points: fd.Points) -> str:
    """"D_enc = 1, 2 and 3 with 2 seeds each": the points of one (U, D_phi) cell."""
    depths, seeds = _levels(points, t.DEPTH2), _levels(points, t.SEED2)
    return f"D_enc = {fd.levels_text(depths)} with {_plural(len(seeds), 'seed')} each"


def _reference(points: fd.Points) -> str:
    depth = "" if points.depth1 is None else f" of depth {points.depth1}"
    return f"Alignment ({points.metric}) between the modality-1 encoder{depth}"


def _shown(chosen: list[int], present: list[int], name: str) -> str:
    """"D_phi = 1, 3 and 5" and, when some levels run are not drawn, which."""
    text = f"{name} = {fd.levels_text(chosen)}"
    left = sorted(set(present) - set(chosen))
    return text + (f" (of those run, {fd.levels_text(left)} not shown)" if left else "")


def _band(points: fd.Points, where: str) -> str:
    """The sentence on the chance band, only when the figure draws one."""
    if not fd.has_chance(points):
        return ""
    return (
        f" The grey band is chance {where}: from the mean of the permutation null of the maximum "
        f"over layer pairs (samples of one modality shuffled) to that mean plus "
        f"{fd.CHANCE_SDS} null standard deviations."
    )


def _cap_uniqueness(p: fd.Points, method: str) -> str:
    panels = _shown(fd.uniqueness_panels(p), _levels(p, t.DPHI), "D_phi")
    return (
        f"{_reference(p)} and every modality-2 encoder ({_grid_words(p)}, coloured by D_enc) "
        f"against uniqueness U = {fd.levels_text(_levels(p, t.U))}, one panel per D_phi "
        f"({panels}). The red line joins the maximum of each U;"
        f" each panel's title gives the {method} correlation between U and that maximum, with "
        "its 95% bootstrap interval and the number of points." + _band(p, "of each (U, D_phi)")
    )


def _cap_heterogeneity(p: fd.Points, method: str) -> str:
    return (
        f"The same alignments against the transform depth D_phi = "
        f"{fd.levels_text(_levels(p, t.DPHI))}, one panel per U "
        f"({fd.levels_text(_levels(p, t.U))}). The red line joins the maximum of each D_phi; "
        f"titles give the {method} correlation between D_phi and that maximum."
        + _band(p, "of each (U, D_phi)")
    )


def _cap_heatmaps(p: fd.Points, method: str) -> str:
    seeds = _plural(len(_levels(p, t.SEED2)), "seed")
    text = (
        f"Alignment averaged over {seeds} for each transform depth D_phi "
        f"({fd.levels_text(_levels(p, t.DPHI))}; columns) and modality-2 encoder depth "
        f"D_enc ({fd.levels_text(_levels(p, t.DEPTH2))}; rows), one panel per U "
        f"({fd.levels_text(_levels(p, t.U))}), one colour scale for all panels."
    )
    band = fd.chance_band(p, [t.U, t.DEPTH2, t.DPHI])
    if len(band):
        mean = fd.seed_mean_alignment(p).merge(band, on=[t.U, t.DEPTH2, t.DPHI])
        low = int((mean[t.SCORE] <= mean["chance_high"]).sum())
        text += (
            f" A white x marks a cell whose mean alignment is within the chance band (at most the "
            f"permutation null's mean plus {fd.CHANCE_SDS} standard deviations): {low} of "
            f"{len(mean)} cells."
        )
    return text


def _cap_boxes(p: fd.Points, method: str) -> str:
    n_dphi, n_seed = len(_levels(p, t.DPHI)), len(_levels(p, t.SEED2))
    return (
        f"{method} correlations per U ({fd.levels_text(_levels(p, t.U))}). Left: "
        f"corr(alignment, performance), one per D_phi ({n_dphi} per U), over all D_enc x seeds "
        f"points of that D_phi pooled. Middle: corr(depth, performance) and right: "
        f"corr(alignment, depth), one per (D_phi, seed) ({n_dphi * n_seed} per U), across the "
        f"{len(_levels(p, t.DEPTH2))} D_enc values. Orange: medians; dots: the correlations; "
        "undefined ones are counted under the boxes."
    )


def _cap_deepest(p: fd.Points, method: str) -> str:
    return (
        f"Alignment against performance (test accuracy) of the deepest modality-2 encoder "
        f"(D_enc = {max(_levels(p, t.DEPTH2))}), one point per D_phi "
        f"({fd.levels_text(_levels(p, t.DPHI))}; labelled, seed-averaged), one panel per U "
        f"({fd.levels_text(_levels(p, t.U))}); titles give the {method} correlation over the "
        "D_phi points." + _band(p, "of each panel (its mean over the panel's points)")
    )


def _cap_performance(p: fd.Points, method: str) -> str:
    rows = _shown(fd.scatter_dphis(p), _levels(p, t.DPHI), "D_phi")
    return (
        f"Alignment against performance for {rows} (rows) and U = "
        f"{fd.levels_text(_levels(p, t.U))} (columns); dots: one per D_enc and seed, coloured "
        f"by D_enc; titles give the {method} correlation over the dots."
        + _band(p, "of each panel (its mean over the panel's points)")
    )


FIGURES = (
    FigureEntry(
        "alignment_vs_uniqueness",
        "Alignment vs uniqueness",
        _cap_uniqueness,
        lambda p, c, m: sf.fig_alignment_vs_uniqueness(p, method=m),
    ),
    FigureEntry(
        "alignment_vs_heterogeneity",
        "Alignment vs heterogeneity",
        _cap_heterogeneity,
        lambda p, c, m: sf.fig_alignment_vs_heterogeneity(p, method=m),
    ),
    FigureEntry(
        "alignment_heatmaps",
        "Alignment over (D_phi, D_enc)",
        _cap_heatmaps,
        lambda p, c, m: sf.fig_alignment_heatmaps(p),
    ),
    FigureEntry(
        "correlation_boxes",
        "Correlations per uniqueness",
        _cap_boxes,
        lambda p, c, m: sf.fig_correlation_boxes(p, method=m, correlations=c),
        band=False,
    ),
    FigureEntry(
        "deepest_alignment_vs_performance",
        "Deepest encoder across heterogeneity",
        _cap_deepest,
        lambda p, c, m: pf.fig_deepest_alignment_vs_performance(p, method=m),
    ),
    FigureEntry(
        "alignment_vs_performance",
        "Alignment vs performance",
        _cap_performance,
        lambda p, c, m: pf.fig_alignment_vs_performance(p, method=m),
    ),
)

NO_BAND_NOTE = (
    "No chance band: these alignments carry no permutation null (no null_mean column; runs "
    "made before the null was stored), so chance is not drawn."
)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """``fig`` saved as ``fmt`` ("png" or "svg") into bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def render_figures(
    points: fd.Points | None,
    correlations: pd.DataFrame | None,
    method: str = "spearman",
    skip_all: str | None = None,
) -> list[RenderedFigure]:
    """Draw every figure of :data:`FIGURES`; a figure that raises ``ValueError`` is skipped.

    ``skip_all`` (with ``points`` None) skips every figure with that reason.
    """
    out = []
    for entry in FIGURES:
        if points is None:
            out.append(RenderedFigure(entry.name, entry.title, "", reason=skip_all))
            continue
        try:
            fig = entry.draw(points, correlations, method)
            caption = entry.caption(points, method.capitalize())
        except ValueError as exc:  # MissingColumnsError, InsufficientDataError
            out.append(RenderedFigure(entry.name, entry.title, "", reason=str(exc)))
            continue
        note = NO_BAND_NOTE if entry.band and not fd.has_chance(points) else None
        png = figure_bytes(fig, "png")
        fig.set_layout_engine("none")  # keep the layout just computed: the SVG needs no new one
        svg = figure_bytes(fig, "svg")
        out.append(RenderedFigure(entry.name, entry.title, caption, png, svg, note=note))
    return out
