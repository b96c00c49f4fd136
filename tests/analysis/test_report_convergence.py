"""An undertrained run: the report warns with the numbers and withholds the findings that rank
models by accuracy; a converged run states them."""

import html
import re

from alignlab.analysis.report import write_report

from .conftest import synthetic_alignments, synthetic_models, write_run


def said(run) -> list[str]:
    page = write_report(run, n_boot=50).read_text()
    block = page[page.index("What the data shows") : page.index("Summary per uniqueness")]
    return [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", block, re.S)]


def make(tmp_path, last: bool):
    rows = synthetic_alignments(us=(0, 4, 8), dphis=(1, 5, 9), depths=(1, 2, 4), seeds=(0, 1),
                                metrics=("unbiased_cka",), depth1s=(1,))  # fmt: skip
    models = synthetic_models(rows)
    models["best_is_last"] = last
    models["best_epoch"] = 4 if last else 2
    return write_run(tmp_path / ("last" if last else "done"), rows, models)


def test_an_undertrained_run_warns_and_withholds(tmp_path):
    text = said(make(tmp_path, last=True))
    warning = next(s for s in text if s.startswith("x2 is undertrained"))
    assert "at 3 of 3 depths" in warning and "100% at depth 1" in warning
    assert text.index(warning) == 2  # right after what was run and its size
    withheld = [s for s in text if s.startswith("Not stated: whether")]
    assert [s.split(",")[0] for s in withheld] == [
        "Not stated: whether alignment tracks performance",
        "Not stated: whether performance tracks encoder depth",
    ]
    assert not any(s.startswith("Alignment tracks performance") for s in text)
    assert (tmp_path / "last" / "report" / "tables" / "convergence.csv").exists()


def test_a_converged_run_states_the_relations(tmp_path):
    text = said(make(tmp_path, last=False))
    assert not any(s.startswith(("x2 is undertrained", "Not stated")) for s in text)
    assert any(s.startswith("Alignment tracks performance at U = 0") for s in text)


def test_the_summary_table_marks_what_the_text_withholds(tmp_path):
    heads = {}
    for last in (True, False):
        page = write_report(make(tmp_path, last=last), n_boot=50).read_text()
        table = re.search(r'<table id="summary"><thead>(.*?)</thead>', page, re.S).group(1)
        heads[last] = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
    marked = [h for h in heads[True] if h.endswith("(not stated: undertrained)")]
    assert [h.split(" [")[0] for h in marked] == [
        "median ρ(alignment, performance)",
        "median r(alignment, performance)",
        "median ρ(depth, performance)",
    ]
    assert not any("not stated" in h for h in heads[False])
    assert "median ρ(alignment, depth) [95% CI] (n)" in heads[True]  # ranks by depth: stated
