"""Each figure function returns a Figure whose plotted data are the tested numbers."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from alignlab.analysis import figure_data as fd
from alignlab.analysis import performance_figures as pf
from alignlab.analysis import synthetic_figures as sf
from alignlab.analysis.tables import MissingColumnsError

ALL_FIGURES = [
    sf.fig_alignment_vs_uniqueness,
    sf.fig_alignment_vs_heterogeneity,
    sf.fig_alignment_heatmaps,
    sf.fig_correlation_boxes,
    pf.fig_deepest_alignment_vs_performance,
    pf.fig_alignment_vs_performance,
]
NEED_PERFORMANCE = ALL_FIGURES[3:]


@pytest.fixture
def alignments(alignments_table):
    return alignments_table(dphis=(1, 3, 5, 6, 7, 9, 10))


def visible_axes(fig: Figure) -> list:
    """The panels of ``fig`` (visible axes that are not colour bars)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


@pytest.mark.parametrize("make", ALL_FIGURES, ids=lambda f: f.__name__)
def test_every_figure_is_a_figure(make, alignments):
    fig = make(alignments)
    assert isinstance(fig, Figure)
    assert "unbiased_cka" in fig.get_suptitle() and "modality-1 depth 1" in fig.get_suptitle()


def test_alignment_vs_uniqueness_plots_the_maxima_of_every_u(alignments):
    fig = sf.fig_alignment_vs_uniqueness(alignments)
    panels = visible_axes(fig)
    assert [ax.get_title().splitlines()[0] for ax in panels] == [
        f"D_phi = {d}" for d in (1, 3, 5, 7, 9)
    ]
    maxima = fd.max_alignment_by_u(alignments)
    for ax, dphi in zip(panels, (1, 3, 5, 7, 9), strict=True):
        line = ax.lines[0]
        expected = maxima[maxima.dphi == dphi].sort_values("u")
        assert list(line.get_xdata()) == list(range(9))  # U = 8 included
        assert np.asarray(line.get_ydata()) == pytest.approx(expected["max_score"].to_numpy())
        assert "max vs U: ρ = -1.00" in ax.get_title()


def test_alignment_vs_heterogeneity_has_a_panel_for_every_u(alignments):
    panels = visible_axes(sf.fig_alignment_vs_heterogeneity(alignments))
    assert [ax.get_title().splitlines()[0] for ax in panels] == [f"U = {u}" for u in range(9)]


def test_heatmaps_show_the_seed_means(alignments):
    fig = sf.fig_alignment_heatmaps(alignments, metric="mutual_knn", depth1=2)
    panels = visible_axes(fig)
    assert len(panels) == 9
    mean = fd.seed_mean_alignment(fd.select_points(alignments, "mutual_knn", 2))
    u4 = mean[mean.u == 4].pivot(index="depth_b", columns="dphi", values="score").to_numpy()
    np.testing.assert_allclose(np.ma.getdata(panels[4].images[0].get_array()), u4)


def test_box_plots_use_the_correlation_table(alignments):
    points = fd.select_points(alignments)
    correlations = fd.correlation_table(points, ("pearson",), n_boot=0)
    fig = sf.fig_correlation_boxes(points, method="pearson", correlations=correlations)
    panels = visible_axes(fig)
    assert len(panels) == 3 and panels[0].get_ylabel() == "pearson correlation"
    assert "corr(alignment, performance)" in panels[0].get_title()


def test_scatter_rows_are_the_paper_dphis(alignments):
    panels = visible_axes(pf.fig_alignment_vs_performance(alignments))
    heads = [ax.get_title().splitlines()[0] for ax in panels]
    assert heads[0] == "D_phi = 3, U = 0" and heads[-1] == "D_phi = 9, U = 8"
    assert len(heads) == 3 * 9


@pytest.mark.parametrize("make", NEED_PERFORMANCE, ids=lambda f: f.__name__)
def test_missing_performance_is_named(make, alignments):
    with pytest.raises(MissingColumnsError, match=r"needs column\(s\) perf_b"):
        make(alignments.drop(columns="perf_b"))


@pytest.mark.parametrize("make", ALL_FIGURES[:3], ids=lambda f: f.__name__)
def test_alignment_figures_do_not_need_performance(make, alignments):
    assert isinstance(make(alignments.drop(columns="perf_b")), Figure)
