"""The HTML report and the ``alignlab report`` command."""

import re

import pytest
from typer.testing import CliRunner

from alignlab.analysis.figures import FIGURES
from alignlab.analysis.report import write_report
from alignlab.cli import app

NAMES = [f.name for f in FIGURES]


def test_report_has_summary_figures_spec_and_environment(small_report):
    page = small_report.read_text()
    assert small_report.name == "index.html" and small_report.parent.name == "report"
    summary = re.search(r'<table id="summary">.*?</table>', page, re.S).group(0)
    assert summary.count("<tr>") == 1 + 9  # header and U = 0..8
    assert "median ρ(alignment, performance) [95% CI] (n D_phi)" in summary
    assert page.count('<img src="data:image/png;base64,') == len(FIGURES)
    for name in NAMES:
        assert f'id="fig-{name}"' in page
        assert (small_report.parent / "figures" / f"{name}.png").stat().st_size > 1000
        assert (small_report.parent / "figures" / f"{name}.svg").read_text().startswith("<?xml")
    assert "Maximum alignment falls with uniqueness at every D_phi (5 of 5)" in page
    assert '<pre id="spec">study: synthetic' in page
    assert "<td>torch</td><td>2.13.0</td>" in page
    assert 'id="training"' in page and 'id="skipped"' not in page


def test_report_is_self_contained(small_report):
    page = small_report.read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched from outside
    assert not re.search(r'<img src="(?!data:)', page)


def test_report_writes_its_tables(small_report):
    tables = small_report.parent / "tables"
    summary = (tables / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("u,max_score,max_dphi,max_depth2,n_points")
    assert "ap_spearman_value" in summary[0] and len(summary) == 10
    assert (tables / "correlations.csv").read_text().startswith("kind,u,dphi,seed_b,method")


def test_missing_performance_skips_only_the_figures_that_need_it(make_run):
    run = make_run(drop=("perf_b",), us=(0, 4, 8), dphis=(1, 5, 9), depths=(1, 2, 3))
    page = write_report(run, n_boot=50).read_text()
    skipped = re.findall(r"<li>([^<]*) skipped: ([^<]*)</li>", page)
    assert {title for title, _ in skipped} == {
        "Correlations per uniqueness",
        "Deepest encoder across heterogeneity",
        "Alignment vs performance",
    }
    assert all(
        "needs column(s) perf_b, missing from tables/alignments.parquet" in r for _, r in skipped
    )
    assert page.count("<img ") == 3
    assert "tables/alignments.parquet lacks column(s) perf_b" in page
    assert not (run / "report" / "figures" / "correlation_boxes.png").exists()


def test_missing_score_still_writes_a_report(make_run):
    run = make_run(drop=("score",), us=(0, 8), dphis=(1, 3), depths=(1, 2))
    page = write_report(run).read_text()
    assert page.count("<img ") == 0
    assert "Nothing can be shown: every figure needs column(s) score" in page
    assert page.count(" skipped: every figure needs column(s) score") == len(FIGURES)


def test_cli_report(make_run):
    run = make_run(us=(0, 8), dphis=(1, 3, 9), depths=(1, 2, 3), seeds=(0, 1))
    result = CliRunner().invoke(
        app, ["report", str(run), "--metric", "mutual_knn", "--depth1", "2"]
    )
    assert result.exit_code == 0, result.output
    index = run / "report" / "index.html"
    assert result.output.strip() == str(index)
    assert "mutual_knn, modality-1 depth 2" in index.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "svcca"], "metric 'svcca' is not in the results"),
        (["--method", "kendall"], "--method must be spearman or pearson"),
    ],
)
def test_cli_report_refuses_bad_options(make_run, args, message):
    run = make_run(us=(0,), dphis=(1,), depths=(1,), seeds=(0,))
    result = CliRunner().invoke(app, ["report", str(run), *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_cli_report_on_a_run_without_results(tmp_path):
    (tmp_path / "run").mkdir()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "tables/alignments.parquet is missing" in " ".join(result.output.split())
