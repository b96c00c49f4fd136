"""The synthetic study's figures: functions from the alignments table to a matplotlib Figure.

Each function takes the alignments table (or :class:`~alignlab.analysis.figure_data.Points`
already selected), a metric and a modality-1 depth, and returns a
:class:`matplotlib.figure.Figure` built without pyplot: it shows in a notebook, and the report
saves it as PNG and SVG. The numbers each figure plots come from
:mod:`alignlab.analysis.figure_data`, where they are tested. Every uniqueness level present in
the table is plotted.

Where the alignments carry the permutation null (``null_mean``, ``null_std``), every figure of
alignment values draws the chance band (:func:`~alignlab.analysis.figure_data.chance_band`) with
a legend entry; without it nothing is drawn in its place.

Missing columns raise :class:`~alignlab.analysis.tables.MissingColumnsError` naming them; a
figure whose x axis would have fewer than two levels raises
:class:`~alignlab.analysis.tables.InsufficientDataError`.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t
from alignlab.stats import Method, correlation

PANEL = (2.6, 2.2)  # inches per panel
DPI = 100
CMAP = "viridis"
CHANCE_COLOUR = "0.55"
CHANCE_LABEL = f"chance: null mean to +{fd.CHANCE_SDS} sd"
CHANCE_CELL_LABEL = f"within chance band (<= null mean + {fd.CHANCE_SDS} sd)"


def points_of(
    data: pd.DataFrame | fd.Points,
    metric: str | None,
    depth1: int | None,
    needs: tuple[str, ...] = (),
    what: str = "figure",
) -> fd.Points:
    """``data`` itself when it is already :class:`Points`, else the selected points."""
    if isinstance(data, fd.Points):
        t.require_columns(data.frame, list(needs), what)
        return data
    return fd.select_points(data, metric, depth1, needs, what)


def grid(n: int, ncols: int, panel: tuple[float, float] = PANEL, **kw) -> tuple[Figure, list]:
    """A constrained-layout figure with ``n`` panels in rows of ``ncols``; spare axes hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel[0] * ncols + 0.8, panel[1] * nrows + 0.5), dpi=DPI)
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kw)).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def panel_title(ax, head: str, stat: str, size: float = 8) -> None:
    """Title a panel with ``head`` and, below, a statistic, wrapped to the panel's width."""
    inches = ax.get_position().width * ax.figure.get_figwidth()
    ax.set_title(fit_width(f"{head}\n{stat}", inches, size), fontsize=size, linespacing=1.4)


def colorbar(fig: Figure, axes: list, values, label: str) -> Normalize:
    """One colour bar for ``axes`` spanning ``values`` (integer ticks); returns its norm."""
    norm = Normalize(vmin=float(np.min(values)), vmax=float(np.max(values)))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=axes, label=label, shrink=0.8)
    if np.allclose(np.asarray(values, dtype=float) % 1, 0):
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return norm


def require_levels(points: fd.Points, column: str, name: str, what: str) -> list[int]:
    """The sorted levels of ``column``; fewer than two raise InsufficientDataError."""
    levels = sorted(int(v) for v in points.frame[column].unique())
    if len(levels) < 2:
        raise t.InsufficientDataError(
            f"{what} needs at least two {name} values; the run has {name} = "
            f"{fd.levels_text(levels)} only"
        )
    return levels


def chance_span(ax, band: pd.DataFrame) -> None:
    """Shade the mean chance band of ``band``'s rows across the whole panel (nothing if empty)."""
    if len(band):
        ax.axhspan(band["chance"].mean(), band["chance_high"].mean(), color=CHANCE_COLOUR,
                   alpha=0.3, lw=0, label=CHANCE_LABEL)  # fmt: skip


def fit_width(text: str, inches: float, size: float) -> str:
    """``text`` wrapped at spaces into lines that fit ``inches`` at font ``size`` (points).

    A character is taken as 0.55 of the font size wide (DejaVu Sans' average is about 0.5);
    "(n = 12)" is never split.
    """
    width = max(8, int(inches * 72 / (0.55 * size)))
    text = text.replace("(n = ", "(n\u00a0=\u00a0")  # no-break spaces: wrapped as one word
    return "\n".join(textwrap.fill(line, width) for line in text.splitlines())


def suptitle(fig: Figure, text: str, points: fd.Points) -> None:
    """Title the figure with ``text`` and the metric and modality-1 depth it shows, wrapped to
    the figure's width."""
    d1 = "" if points.depth1 is None else f", modality-1 depth {points.depth1}"
    title = fit_width(f"{text} ({points.metric}{d1})", fig.get_figwidth() - 0.2, 10)
    fig.suptitle(title, fontsize=10)


def _alignment_vs_level(
    points: fd.Points, x: str, panel_by: str, panels: list[int], xlabel: str, method: Method
) -> Figure:
    """Dots for every D_enc x seed, the maximum per ``x`` as a line, the max's trend."""
    f = points.frame
    maxima = fd.max_alignment(points)
    band = fd.chance_band(points, [panel_by, x])
    fig, axes = grid(len(panels), 5, sharey=True)
    norm = colorbar(fig, axes, f[t.DEPTH2], "encoder depth D_enc")
    label = {t.U: "U", t.DPHI: "D_phi"}
    for ax, level in zip(axes, panels, strict=True):
        cell = f[f[panel_by] == level]
        m = maxima[maxima[panel_by] == level].sort_values(x)
        ax.scatter(cell[x], cell[t.SCORE], c=cell[t.DEPTH2], cmap=CMAP, norm=norm, s=9, alpha=0.7)
        ax.plot(m[x], m["max_score"], "-", color="crimson", marker="D", ms=4, label="maximum")
        b = band[band[panel_by] == level].sort_values(x)
        if len(b):
            ax.fill_between(b[x], b["chance"], b["chance_high"], color=CHANCE_COLOUR, alpha=0.3,
                            lw=0, label=CHANCE_LABEL)  # fmt: skip
        c = correlation(m[x].to_numpy(), m["max_score"].to_numpy(), method)
        panel_title(ax, f"{label[panel_by]} = {level}", f"max vs {label[x]}: {c}", 7)
        ax.set_xticks(sorted(f[x].unique()))
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("alignment")
    axes[0].legend(loc="lower left", fontsize=7)
    return fig


def fig_alignment_vs_uniqueness(
    data: pd.DataFrame | fd.Points,
    metric: str | None = None,
    depth1: int | None = None,
    dphis: list[int] | None = None,
    method: Method = "spearman",
) -> Figure:
    """Alignment vs uniqueness U, one panel per D_phi (1, 3, 5, 7, 9 when present).

    Dots: every D_enc x seed; line: the maximum per U; text: corr(U, maximum).
    """
    points = points_of(data, metric, depth1, what="alignment vs uniqueness")
    require_levels(points, t.U, "U", "alignment vs uniqueness")
    dphis = fd.uniqueness_panels(points) if dphis is None else dphis
    fig = _alignment_vs_level(points, t.U, t.DPHI, dphis, "uniqueness U", method)
    suptitle(fig, "Alignment vs uniqueness", points)
    return fig


def fig_alignment_vs_heterogeneity(
    data: pd.DataFrame | fd.Points,
    metric: str | None = None,
    depth1: int | None = None,
    us: list[int] | None = None,
    method: Method = "spearman",
) -> Figure:
    """Alignment vs heterogeneity D_phi, one panel per U (every U present by default).

    Dots: every D_enc x seed; line: the maximum per D_phi; text: corr(D_phi, maximum).
    """
    points = points_of(data, metric, depth1, what="alignment vs heterogeneity")
    require_levels(points, t.DPHI, "D_phi", "alignment vs heterogeneity")
    us = sorted(points.frame[t.U].unique().tolist()) if us is None else us
    fig = _alignment_vs_level(points, t.DPHI, t.U, us, "transform depth D_phi", method)
    suptitle(fig, "Alignment vs heterogeneity", points)
    return fig


def fig_alignment_heatmaps(
    data: pd.DataFrame | fd.Points, metric: str | None = None, depth1: int | None = None
) -> Figure:
    """Seed-averaged alignment over (D_phi, D_enc), one heatmap per U, one shared colour scale."""
    points = points_of(data, metric, depth1, what="alignment heatmaps")
    mean = fd.seed_mean_alignment(points)
    band = fd.chance_band(points, [t.U, t.DEPTH2, t.DPHI])
    if len(band):
        mean = mean.merge(band, on=[t.U, t.DEPTH2, t.DPHI], how="left")
    us = sorted(mean[t.U].unique())
    fig, axes = grid(len(us), 3, panel=(2.6, 2.3))
    norm = colorbar(fig, axes, mean[t.SCORE], "alignment (mean over seeds)")
    for ax, u in zip(axes, us, strict=True):
        table = mean[mean[t.U] == u].pivot(index=t.DEPTH2, columns=t.DPHI, values=t.SCORE)
        ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap=CMAP, norm=norm)
        ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], fontsize=7)
        ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=7)
        ax.set_title(f"U = {u}", fontsize=9)
        ax.set_xlabel("D_phi")
        ax.set_ylabel("D_enc")
        if len(band):
            _mark_chance_cells(ax, mean[mean[t.U] == u], table)
    if len(band):  # a dark proxy: the marks themselves are white on the map
        proxy = Line2D([], [], ls="", marker="x", color="0.2", label=CHANCE_CELL_LABEL)
        fig.legend(handles=[proxy], loc="outside lower center", fontsize=7, frameon=False)
    suptitle(fig, "Alignment over (D_phi, D_enc)", points)
    return fig


def _mark_chance_cells(ax, cell: pd.DataFrame, table: pd.DataFrame) -> None:
    """A white x on every heatmap cell whose mean alignment is within the chance band."""
    low = cell[cell[t.SCORE] <= cell["chance_high"]]
    cols = {c: i for i, c in enumerate(table.columns)}
    rows = {r: i for i, r in enumerate(table.index)}
    xs = [cols[d] for d in low[t.DPHI]]
    ys = [rows[d] for d in low[t.DEPTH2]]
    ax.scatter(xs, ys, marker="x", s=18, color="white", linewidths=1, label=CHANCE_CELL_LABEL)


BOX_PANELS = (
    (fd.ALIGNMENT_PERFORMANCE, "corr(alignment, performance)", "pooled D_enc × seeds per D_phi"),
    (fd.DEPTH_PERFORMANCE, "corr(depth, performance)", "across D_enc, per D_phi and seed"),
    (fd.ALIGNMENT_DEPTH, "corr(alignment, depth)", "across D_enc, per D_phi and seed"),
)


def fig_correlation_boxes(
    data: pd.DataFrame | fd.Points,
    metric: str | None = None,
    depth1: int | None = None,
    method: Method = "spearman",
    correlations: pd.DataFrame | None = None,
) -> Figure:
    """Box plots per U of corr(alignment, performance), corr(depth, performance) and
    corr(alignment, depth) (see :func:`~alignlab.analysis.figure_data.correlation_table`).

    ``correlations`` may pass that table already computed. Undefined correlations are left out
    of the boxes and counted under them.
    """
    points = points_of(data, metric, depth1, (t.PERF2,), "correlation box plots")
    if correlations is None:
        correlations = fd.correlation_table(points, (method,), n_boot=0)
    c = correlations[correlations["method"] == method]
    us = sorted(points.frame[t.U].unique())
    fig, axes = grid(3, 3, panel=(3.4, 2.8), sharey=True)
    rng = np.random.default_rng(0)  # jitter of the dots only
    for ax, (kind, name, how) in zip(axes, BOX_PANELS, strict=True):
        k = c[c["kind"] == kind]
        values = [k.loc[(k[t.U] == u), "value"].dropna().astype(float).to_numpy() for u in us]
        filled = [(u, v) for u, v in zip(us, values, strict=True) if v.size]
        if filled:
            ax.boxplot([v for _, v in filled], positions=[u for u, _ in filled], widths=0.6,
                       medianprops={"color": "darkorange"}, showfliers=False)  # fmt: skip
            for u, v in filled:
                ax.scatter(u + rng.uniform(-0.2, 0.2, v.size), v, s=5, alpha=0.5, color="0.3")
        for u in us:
            undefined = int(k.loc[k[t.U] == u, "value"].isna().sum())
            if undefined:
                ax.text(u, -1.02, f"{undefined}\nundef.", ha="center", va="bottom", fontsize=6)
        ax.axhline(0, color="0.6", lw=0.8, ls="--")
        ax.set_xticks(us)
        ax.set_xlim(min(us) - 0.6, max(us) + 0.6)
        ax.set_ylim(-1.08, 1.08)
        ax.set_title(f"{name}\n{how}", fontsize=8)
        ax.set_xlabel("uniqueness U")
    axes[0].set_ylabel(f"{method} correlation")
    suptitle(fig, "Correlations per uniqueness", points)
    return fig
