"""Chance in the synthetic report: counts above the null per U, the binomial gate, calibration."""

import html
import re

import numpy as np
import pandas as pd
import pytest

from alignlab.analysis import chance as ch
from alignlab.analysis import figure_data as fd
from alignlab.analysis.report import write_report

from .conftest import synthetic_alignments, synthetic_models, write_run


def with_null(alignments: pd.DataFrame, chance_of_u, aligned_below: int, seed: int = 0):
    """Null columns: ``null_mean = chance_of_u(u)``; pairs at U < ``aligned_below`` get p = 1/200
    (aligned), the others a uniform p (no alignment: p-values of a true null)."""
    rng = np.random.default_rng(seed)
    out = alignments.copy()
    out["null_mean"] = [chance_of_u(u) for u in out["u"]]
    out["null_std"] = 0.01
    out["calibrated"] = out["score"] - out["null_mean"]
    uniform = rng.integers(1, 201, len(out)) / 200
    out["p_value"] = np.where(out["u"] < aligned_below, 1 / 200, uniform)
    out["null_quantile"] = 1 - out["p_value"]
    out["null_permutations"] = 199
    return out


def sentences(index) -> list[str]:
    page = index.read_text()
    block = page[page.index("What the data shows") : page.index("Summary per uniqueness")]
    return [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", block, re.S)]


def said(rows: pd.DataFrame) -> list[str]:
    """The chance sentences for modality-1 depth 1 of ``rows``."""
    points = fd.select_points(rows, depth1=1)
    return ch.chance_findings(rows, points, fd.max_alignment(points), n_boot=100)[0]


def test_binomial_gate_counts_pairs_and_flags_levels_at_chance():
    rows = with_null(synthetic_alignments(us=(0, 4, 8), metrics=("unbiased_cka",)),
                     lambda u: 0.1, aligned_below=5)  # fmt: skip
    table = ch.chance_by_u(rows[rows["depth_a"] == 1]).table.set_index("u")
    assert table.loc[0, "above"] == table.loc[0, "pairs"] == 60
    assert table.loc[0, "above_chance"] and table.loc[4, "above_chance"]
    # uniform p-values: about 5% pass, which is what chance gives
    assert table.loc[8, "above"] < 10 and not table.loc[8, "above_chance"]
    assert table.loc[0, "median_calibrated"] == pytest.approx(
        table.loc[0, "median_score"] - 0.1, abs=1e-9
    )


def test_report_says_where_alignment_is_not_above_chance(tmp_path):
    rows = with_null(synthetic_alignments(dphis=(1, 5, 9), depths=(1, 2, 4, 8, 10)),
                     lambda u: 0.1, aligned_below=6)  # fmt: skip
    run = write_run(tmp_path / "run", rows, synthetic_models(rows))
    text = sentences(write_report(run, n_boot=50))
    head = next(s for s in text if s.startswith("Chance:"))
    assert "(199 shuffled pairings)" in head and "U = 0: 45 of 45" in head
    not_above = next(s for s in text if s.startswith("Alignment is not above chance at"))
    assert all(f"U = {u} (" in not_above for u in (6, 7, 8))
    assert "U = 5 (" not in not_above
    table = pd.read_csv(run / "report" / "tables" / "chance.csv")
    assert table["above_chance"].tolist() == [True] * 6 + [False] * 3
    findings = pd.read_csv(run / "report" / "tables" / "paper_findings.csv").set_index("figure")
    assert findings.loc["Figure 10", "evidence"].endswith("U = 6, 7, 8 left out: not above chance")
    assert "falls at 6 of 6 U" in findings.loc["Figure 10", "evidence"]


def test_a_relation_made_by_the_chance_level_does_not_survive_calibration():
    """Raw alignment tracks performance only through a chance level that rises with depth (as
    a deeper model's maximum over more layer pairs does): calibrated, the relation is gone."""
    rows = synthetic_alignments(us=(0, 8), metrics=("unbiased_cka",), depth1s=(1,))
    rng = np.random.default_rng(2)
    chance = 0.1 + 0.05 * rows["depth_b"]
    rows["score"] = chance + rng.normal(0, 0.01, len(rows))
    rows["perf_b"] = 0.7 + 0.02 * rows["depth_b"] + rng.normal(0, 0.002, len(rows))
    rows = with_null(rows, lambda u: 0.0, aligned_below=9)
    rows["null_mean"] = chance
    rows["calibrated"] = rows["score"] - chance
    text = said(rows)
    assert not any(s.startswith("Calibrated alignment tracks performance at U = 0") for s in text)
    assert any(s.startswith("Calibrated alignment shows no clear relation to performance at U = 0")
               for s in text), text  # fmt: skip


def test_a_trend_made_by_the_chance_level_does_not_survive_calibration():
    """Raw maxima fall with U only because the chance level does: calibrated, they are flat."""
    base = synthetic_alignments(metrics=("unbiased_cka",), depth1s=(1,))
    rng = np.random.default_rng(1)
    rows = base.copy()
    rows["score"] = 0.5 - 0.04 * rows["u"] + rng.normal(0, 0.002, len(rows))
    rows = with_null(rows, lambda u: 0.4 - 0.04 * u, aligned_below=9)
    head = '"Maximum alignment falls with uniqueness"'
    survival = next(s for s in said(rows) if s.startswith(head))
    assert survival.startswith('"Maximum alignment falls with uniqueness" does not survive')
    assert "at D_phi in [1, 3, 5, 7, 9] of 5" in survival


def test_a_real_trend_survives_calibration():
    rows = with_null(synthetic_alignments(), lambda u: 0.05, aligned_below=9)
    text = said(rows)
    assert any(s.startswith('"Maximum alignment falls with uniqueness" survives calibration')
               for s in text)  # fmt: skip
    # a chance level the same for every model leaves corr(alignment, performance) as it was
    assert any(s.startswith("Calibrated alignment tracks performance at U = 0") for s in text)


def test_a_run_without_a_null_says_so():
    text = said(synthetic_alignments(us=(0, 8)))
    assert text == [
        "No chance level: these alignments carry no permutation null (an older run, or "
        "null_permutations: 0), so no score here can be told from chance."
    ]


def test_calibrated_points_subtract_the_chance_level_per_point():
    rows = with_null(synthetic_alignments(us=(0, 8), metrics=("unbiased_cka",)),
                     lambda u: 0.2 + 0.01 * u, aligned_below=9)  # fmt: skip
    points = fd.select_points(rows, depth1=1)
    cal = ch.calibrated_points(points, ch.chance_rows(rows, points))
    merged = points.frame.merge(cal.frame, on=fd.POINT_KEYS, suffixes=("", "_cal"))
    expected = merged["score"] - (0.2 + 0.01 * merged["u"])
    assert np.allclose(merged["score_cal"], expected)
