"""Captions and titles are functions of the plotted data; chance bands drawn only from a null.

The unusual grid (one D_phi, two uniqueness levels) is the case a hard-coded caption gets
wrong; the layout check reads every title's drawn bounding box.
"""

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from alignlab.analysis import figure_data as fd
from alignlab.analysis import performance_figures as pf
from alignlab.analysis import synthetic_figures as sf
from alignlab.analysis.figures import NO_BAND_NOTE, render_figures
from alignlab.analysis.report import write_report

ALIGNMENT_FIGURES = [
    sf.fig_alignment_vs_uniqueness,
    sf.fig_alignment_vs_heterogeneity,
    sf.fig_alignment_heatmaps,
    pf.fig_deepest_alignment_vs_performance,
    pf.fig_alignment_vs_performance,
]


def with_null(frame, mean=0.05, std=0.01):
    """The alignments with a permutation null that grows with U (so per-U bands differ)."""
    return frame.assign(null_mean=mean + 0.01 * frame["u"], null_std=std)


@pytest.fixture
def unusual(alignments_table):
    return alignments_table(us=(2, 6), dphis=(3,), depths=(1, 2, 3), seeds=(0, 1))


def numbers_after(text: str, name: str) -> set[int]:
    """Every level named in ``text`` as "name = 1, 3 and 5" (or "name (1, 3 and 5;")."""
    found: set[int] = set()
    levels = r"(\d+(?:, \d+)*(?: and \d+)?)"
    for m in re.finditer(rf"{re.escape(name)} (?:= {levels}|\({levels}[;)])", text):
        found |= {int(v) for v in re.findall(r"\d+", m.group(1) or m.group(2))}
    return found


def text_boxes(fig):
    """Drawn bounding boxes (display units) of the suptitle, panel titles and axis labels."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        if ax.get_visible():
            texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
    return [(x.get_text(), x.get_window_extent(renderer)) for x in texts if x.get_text()]


def assert_no_clipping_or_overlap(fig):
    boxes = text_boxes(fig)
    frame = fig.bbox
    for text, box in boxes:
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, f"clipped sideways: {text!r}"
        assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, f"clipped: {text!r}"
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            if box_a.width and box_b.width:
                assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"


def test_captions_of_an_unusual_grid_name_only_what_was_run(unusual):
    points = fd.select_points(unusual)
    rendered = render_figures(points, fd.correlation_table(points, n_boot=20))
    drawn = [r for r in rendered if r.png is not None]
    assert {r.name for r in drawn} == {
        "alignment_vs_uniqueness", "alignment_heatmaps", "correlation_boxes",
        "alignment_vs_performance",
    }  # fmt: skip
    for r in drawn:
        assert numbers_after(r.caption, "D_phi") <= {3}, r.caption
        assert numbers_after(r.caption, "U") <= {2, 6}, r.caption
        assert "6 and 9" not in r.caption and "chance" not in r.caption
        assert r.note == (NO_BAND_NOTE if r.name != "correlation_boxes" else None)
    caption = {r.name: r.caption for r in drawn}
    assert "D_phi = 3 (rows)" in caption["alignment_vs_performance"]
    assert "U = 2 and 6" in caption["alignment_vs_uniqueness"]
    assert "D_enc = 1, 2 and 3 with 2 seeds each" in caption["alignment_vs_uniqueness"]
    assert "one per D_phi (1 per U)" in caption["correlation_boxes"]
    reasons = {r.name: r.reason for r in rendered if r.png is None}
    assert reasons["alignment_vs_heterogeneity"].endswith("the run has D_phi = 3 only")


def test_captions_say_which_levels_are_run_but_not_drawn(alignments_table):
    points = fd.select_points(alignments_table(us=(0, 4), dphis=(1, 2, 3, 4, 6, 8), seeds=(0,)))
    caption = {r.name: r.caption for r in render_figures(points, None)}
    assert "D_phi = 2, 4 and 8 (of those run, 1 and 3 not shown)" not in caption.values()
    assert "(D_phi = 1 and 3 (of those run, 2, 4, 6 and 8 not shown))" in (
        caption["alignment_vs_uniqueness"]
    )


@pytest.mark.parametrize("grid", ["unusual", "wide"])
def test_titles_are_neither_clipped_nor_overlapping(grid, unusual, alignments_table):
    table = unusual if grid == "unusual" else alignments_table(dphis=(1, 3, 5, 6, 7, 9))
    points = fd.select_points(with_null(table))
    for make in [*ALIGNMENT_FIGURES, sf.fig_correlation_boxes]:
        try:
            fig = make(points)
        except ValueError:
            continue  # skipped figures are tested above
        assert_no_clipping_or_overlap(fig)


def test_chance_band_follows_the_null_of_each_cell(alignments_table):
    points = fd.select_points(with_null(alignments_table(us=(0, 8), dphis=(1, 5), seeds=(0, 1))))
    fig = sf.fig_alignment_vs_uniqueness(points)
    panel = fig.axes[0]
    band = [c for c in panel.collections if c.get_label().startswith("chance")]
    assert len(band) == 1
    vertices = band[0].get_paths()[0].vertices
    # null_mean 0.05 + 0.01 U, +2 sd = +0.02: U = 0 spans [0.05, 0.07], U = 8 spans [0.13, 0.15]
    at_u0 = vertices[np.isclose(vertices[:, 0], 0), 1]
    at_u8 = vertices[np.isclose(vertices[:, 0], 8), 1]
    assert sorted({round(v, 6) for v in at_u0}) == pytest.approx([0.05, 0.07])
    assert sorted({round(v, 6) for v in at_u8}) == pytest.approx([0.13, 0.15])
    assert any(t.get_text().startswith("chance") for t in panel.get_legend().get_texts())


def test_every_alignment_figure_draws_a_band_only_with_a_null(alignments_table):
    table = alignments_table(us=(0, 8), dphis=(1, 5), seeds=(0, 1))
    for make in ALIGNMENT_FIGURES:
        with_band = make(fd.select_points(with_null(table)))
        without = make(fd.select_points(table))
        for fig, expected in ((with_band, True), (without, False)):
            labels = [h.get_label() for ax in fig.axes for h in [*ax.collections, *ax.patches]]
            assert any(lab.startswith(("chance", "within chance")) for lab in labels) == expected


def test_heatmap_marks_exactly_the_cells_within_chance(alignments_table):
    table = alignments_table(us=(0, 8), dphis=(1, 5), seeds=(0,), noise=0.0)
    points = fd.select_points(table.assign(null_mean=0.5, null_std=0.05))  # band up to 0.6
    mean = fd.seed_mean_alignment(points)
    expected = int((mean["score"] <= 0.6).sum())
    fig = sf.fig_alignment_heatmaps(points)
    marked = sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
                 if c.get_label().startswith("within chance"))  # fmt: skip
    assert 0 < expected < len(mean) and marked == expected
    caption = {r.name: r.caption for r in render_figures(points, None)}["alignment_heatmaps"]
    assert f"{expected} of {len(mean)} cells" in caption


def test_report_of_a_run_without_null_says_so_under_each_alignment_figure(make_run):
    index = write_report(make_run(us=(0, 8), dphis=(1, 5), seeds=(0, 1)), n_boot=20)
    page = index.read_text()
    assert page.count("No chance band") == 5 and "grey band" not in page


def test_report_with_null_names_the_band(make_run, run_writer, tmp_path, alignments_table):
    table = with_null(alignments_table(us=(0, 8), dphis=(1, 5), seeds=(0, 1)))
    index = write_report(run_writer(tmp_path / "null", table), n_boot=20)
    page = index.read_text()
    assert "No chance band" not in page and page.count("The grey band is chance") == 4
