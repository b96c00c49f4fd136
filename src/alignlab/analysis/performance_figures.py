"""Alignment against performance: the deepest encoder across D_phi, and per-D_phi scatters.

Same conventions as :mod:`alignlab.analysis.synthetic_figures`: each function returns a
:class:`matplotlib.figure.Figure`; the numbers come from :mod:`alignlab.analysis.figure_data`.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t
from alignlab.analysis.synthetic_figures import (
    CMAP,
    chance_span,
    colorbar,
    grid,
    panel_title,
    points_of,
    require_levels,
    suptitle,
)
from alignlab.stats import Method, correlation


def fig_deepest_alignment_vs_performance(
    data: pd.DataFrame | fd.Points,
    metric: str | None = None,
    depth1: int | None = None,
    method: Method = "spearman",
) -> Figure:
    """Alignment vs performance of the deepest modality-2 encoder, one panel per U.

    One point per D_phi (seed-averaged), coloured and labelled by D_phi; text: corr over the
    D_phi points of the panel.
    """
    points = points_of(data, metric, depth1, (t.PERF2,), "deepest-encoder alignment")
    require_levels(points, t.DPHI, "D_phi", "deepest-encoder alignment across D_phi")
    deep = fd.deepest_encoder(points)
    deepest = points.frame[points.frame[t.DEPTH2] == points.frame[t.DEPTH2].max()]
    band = fd.chance_band(fd.Points(deepest, points.metric, points.depth1), [t.U])
    us = sorted(deep[t.U].unique())
    if not us:
        raise t.InsufficientDataError("deepest-encoder alignment: no cell has the deepest D_enc")
    fig, axes = grid(len(us), 5)
    norm = colorbar(fig, axes, deep[t.DPHI], "transform depth D_phi")
    for ax, u in zip(axes, us, strict=True):
        cell = deep[deep[t.U] == u]
        chance_span(ax, band[band[t.U] == u])
        ax.scatter(cell[t.PERF2], cell[t.SCORE], c=cell[t.DPHI], cmap=CMAP, norm=norm, s=22)
        for _, row in cell.iterrows():
            ax.annotate(str(int(row[t.DPHI])), (row[t.PERF2], row[t.SCORE]), fontsize=6,
                        xytext=(3, 2), textcoords="offset points")  # fmt: skip
        c = correlation(cell[t.PERF2].to_numpy(), cell[t.SCORE].to_numpy(), method)
        panel_title(ax, f"U = {u}", str(c), 7)
        ax.set_xlabel("performance (test acc.)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("alignment")
    if len(band):
        axes[0].legend(loc="best", fontsize=6)
    depth = int(deep[t.DEPTH2].iloc[0])
    suptitle(fig, f"Deepest encoder (D_enc = {depth}) across D_phi", points)
    return fig


def fig_alignment_vs_performance(
    data: pd.DataFrame | fd.Points,
    metric: str | None = None,
    depth1: int | None = None,
    dphis: list[int] | None = None,
    method: Method = "spearman",
) -> Figure:
    """Alignment vs performance scatters: one row per D_phi (by default
    :func:`~alignlab.analysis.figure_data.scatter_dphis`), one column per U. Dots: every D_enc x
    seed, coloured by D_enc; text: the pooled correlation.
    """
    points = points_of(data, metric, depth1, (t.PERF2,), "alignment vs performance scatter")
    f = fd.scatter_points(points, dphis)
    if f.empty:
        raise t.InsufficientDataError(
            f"alignment vs performance scatter: none of D_phi = {dphis} is in the results"
        )
    rows = sorted(f[t.DPHI].unique())
    us = sorted(f[t.U].unique())
    band = fd.chance_band(fd.Points(f, points.metric, points.depth1), [t.DPHI, t.U])
    fig, axes = grid(len(rows) * len(us), len(us), panel=(2.0, 1.8))
    norm = colorbar(fig, axes, f[t.DEPTH2], "encoder depth D_enc")
    for i, dphi in enumerate(rows):
        for j, u in enumerate(us):
            ax = axes[i * len(us) + j]
            cell = f[(f[t.DPHI] == dphi) & (f[t.U] == u)]
            chance_span(ax, band[(band[t.DPHI] == dphi) & (band[t.U] == u)])
            ax.scatter(cell[t.PERF2], cell[t.SCORE], c=cell[t.DEPTH2], cmap=CMAP, norm=norm, s=8)
            c = correlation(cell[t.PERF2].to_numpy(), cell[t.SCORE].to_numpy(), method)
            panel_title(ax, f"D_phi = {dphi}, U = {u}", str(c), 6)
            ax.tick_params(labelsize=6)
            if i == len(rows) - 1:
                ax.set_xlabel("performance", fontsize=7)
            if j == 0:
                ax.set_ylabel("alignment", fontsize=7)
    if len(band):
        axes[0].legend(loc="best", fontsize=5)
    suptitle(fig, "Alignment vs performance", points)
    return fig
