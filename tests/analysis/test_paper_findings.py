"""The paper's findings checked on hand-made alignments whose truth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest
from tests.analysis.conftest import synthetic_alignments

from alignlab.analysis import figure_data as fd
from alignlab.analysis import paper_findings as pf


def _found(frame, withheld=None, n_boot=300):
    points = fd.select_points(frame, "unbiased_cka", 1, what="test")
    correlations = fd.correlation_table(points, n_boot=n_boot)
    found = pf.paper_findings(points, fd.max_alignment(points), correlations, n_boot, withheld)
    return {f.figure: f for f in found}


def test_outcomes_follow_the_construction():
    # alignment = 0.9 - 0.06 U - 0.02 D_phi + 0.03 D_enc (1 - U/8), performance = ... - 0.01
    # D_phi + 0.01 D_enc. Figure 6: rho(D_enc - D_phi, alignment) is about 0.98 at U = 0 and
    # 0.76 at U = 8 (alignment there is -0.02 D_phi alone): weaker, so reproduced. Figure 9:
    # for the deepest encoder alignment and accuracy both fall with D_phi at U = 8 too, so the
    # "not at high" part fails by construction
    found = _found(synthetic_alignments(us=(0, 2, 4, 6, 8), depths=(1, 2, 4, 7), seed=3))
    outcomes = {k: f.outcome for k, f in found.items()}
    assert outcomes == {
        "Figure 4": pf.REPRODUCED,
        "Figure 6": pf.REPRODUCED,
        "Figure 7 (left)": pf.REPRODUCED,
        "Figure 7 (centre)": pf.REPRODUCED,
        "Figure 7 (right)": pf.REPRODUCED,
        "Figure 9": pf.PARTLY,
        "Figure 10": pf.REPRODUCED,
    }
    assert "falls at 5 of 5" in found["Figure 4"].evidence


def test_alignment_rising_with_uniqueness_is_the_opposite_of_figure_4():
    frame = synthetic_alignments(us=(0, 2, 4, 6, 8), seed=1)
    frame["score"] = 0.1 + 0.05 * frame["u"] + np.random.default_rng(0).normal(0, 0.01, len(frame))
    assert _found(frame)["Figure 4"].outcome == pf.OPPOSITE


def test_noise_shows_nothing():
    frame = synthetic_alignments(us=(0, 2, 4, 6, 8), seed=2)
    rng = np.random.default_rng(5)
    frame["score"] = rng.uniform(0.2, 0.3, len(frame))
    frame["perf_b"] = rng.uniform(0.6, 0.7, len(frame))
    found = _found(frame)
    for figure in ("Figure 6", "Figure 7 (left)", "Figure 7 (centre)", "Figure 7 (right)"):
        assert found[figure].outcome in (pf.NOT_SHOWN, pf.OPPOSITE), figure


def test_withheld_and_untestable():
    frame = synthetic_alignments(us=(0, 8), dphis=(1, 5), seed=4)
    found = _found(frame, withheld="the models had not finished learning")
    assert found["Figure 7 (left)"].outcome == pf.WITHHELD
    assert found["Figure 7 (centre)"].outcome == pf.WITHHELD
    assert found["Figure 9"].outcome == pf.WITHHELD
    assert found["Figure 4"].outcome == pf.UNTESTABLE  # two uniqueness levels
    assert found["Figure 10"].outcome == pf.UNTESTABLE  # two D_phi levels
    assert found["Figure 7 (right)"].outcome != pf.WITHHELD  # ranks by depth, not accuracy


def test_the_depth_findings_need_three_encoder_depths():
    found = _found(synthetic_alignments(depths=(1, 3), seed=5))  # one correlation needs 3 points
    for figure in ("Figure 7 (centre)", "Figure 7 (right)"):
        assert found[figure].outcome == pf.UNTESTABLE, figure
        assert found[figure].evidence == "fewer than 3 D_enc levels"
    assert _found(synthetic_alignments(depths=(1, 2, 3), seed=5))["Figure 7 (right)"].outcome \
        != pf.UNTESTABLE


@pytest.mark.parametrize("outcomes, expected", [
    ([pf.REPRODUCED, pf.PARTLY, pf.REPRODUCED],
     "This run reproduces 2 of the paper's 3 synthetic findings (F0, F2); partly: F1 (table "
     "below)."),
    ([pf.WITHHELD], "This run reproduces 0 of the paper's 1 synthetic findings; withheld: F0 "
     "(table below)."),
])  # fmt: skip
def test_findings_sentence_counts(outcomes, expected):
    found = [pf.PaperFinding(f"F{i}", "claim", o, "e") for i, o in enumerate(outcomes)]
    assert pf.findings_sentence(found) == expected


def test_figure_10_leaves_out_the_uniqueness_levels_at_chance():
    # alignment falls with D_phi at U = 0..6; at U = 8 it is noise around chance whose maxima
    # rise with D_phi: with that level the median over U cannot be below 0 at 95 %
    frame = synthetic_alignments(us=(0, 2, 4, 6, 8), seed=6)
    at_8 = frame["u"] == 8
    frame.loc[at_8, "score"] = 0.02 + 0.001 * frame.loc[at_8, "dphi"]
    points = fd.select_points(frame, "unbiased_cka", 1, what="test")
    maxima = fd.max_alignment(points)
    correlations = fd.correlation_table(points, n_boot=300)

    def figure10(at_chance):
        found = pf.paper_findings(points, maxima, correlations, 300, None, at_chance)
        return found[-1]

    with_8 = figure10(())
    assert with_8.outcome == pf.PARTLY and "falls at 4 of 5 U" in with_8.evidence
    without_8 = figure10([8])
    assert without_8.outcome == pf.REPRODUCED
    assert without_8.evidence.endswith("U = 8 left out: not above chance")
    assert "falls at 4 of 4 U" in without_8.evidence
    assert figure10([0, 2, 4, 6, 8]).outcome == pf.UNTESTABLE
