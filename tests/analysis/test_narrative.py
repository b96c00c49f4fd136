"""The generated text follows the numbers, whichever way they go."""

import pandas as pd
import pytest

from alignlab.analysis import figure_data as fd
from alignlab.analysis.narrative import findings, summary_by_u


def analyse(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    points = fd.select_points(table)
    correlations = fd.correlation_table(points, n_boot=200)
    summary = summary_by_u(points, correlations, n_boot=200)
    return summary, findings(points, fd.max_alignment(points), summary, 200, list(range(9)))


def test_summary_per_u(alignments_table):
    summary, _ = analyse(alignments_table())
    assert list(summary["u"]) == list(range(9))
    assert (summary["n_points"] == 5 * 4 * 3).all()
    m = summary.loc[0, "ap_spearman"]
    assert m.n == 5 and m.low <= m.value <= m.high and m.value > 0.8
    assert summary.loc[8, "dp_spearman"].value == pytest.approx(1.0)


def test_findings_when_alignment_falls_with_uniqueness(alignments_table):
    _, text = analyse(alignments_table())
    joined = "\n".join(text)
    assert "Maximum alignment falls with uniqueness at every D_phi (5 of 5)" in joined
    assert "Maximum alignment falls with heterogeneity at every U (9 of 9)" in joined
    assert "Alignment tracks performance at U = 0 (median ρ = 0.9" in joined
    assert "at U = 8 it shows no clear relation to performance" in joined
    assert text[0].startswith("540 encoder pairs (unbiased_cka, modality-1 depth 1)")


def test_findings_when_alignment_rises_with_uniqueness(alignments_table):
    table = alignments_table(us=[0, 2, 4, 6, 8])
    table["score"] = 0.2 + 0.05 * table["u"] + 0.001 * table["depth_b"]
    table["perf_b"] = 1 - table["score"] + 0.0001 * table["seed_b"]  # runs against alignment
    _, text = analyse(table)
    joined = "\n".join(text)
    assert "Maximum alignment rises with uniqueness at every D_phi" in joined
    assert "falls with uniqueness" not in joined
    assert "Alignment runs against performance at U = 0" in joined


def test_findings_without_a_clear_trend(alignments_table):
    table = alignments_table(us=[0, 1, 2, 3], dphis=(1, 2))
    rng = pd.Series(range(len(table))).mul(7919).mod(101).div(101)
    table["score"] = rng.to_numpy()  # no relation to U
    text = "\n".join(analyse(table)[1])
    assert "Maximum alignment against uniqueness, per D_phi: falls at none; rises at none; " in text
    assert "no clear trend (interval includes 0) at D_phi = 1, 2" in text


def test_findings_name_levels_in_the_spec_without_results(alignments_table):
    _, text = analyse(alignments_table(us=[0, 1, 2, 3, 4, 5, 6, 7]))
    assert "The spec lists U = 8 but the results have none." in text


def test_selection_sentence_names_halving_and_leaves_out_what_did_not_happen():
    from alignlab.analysis.narrative import selection_sentence

    m = pd.DataFrame({"lr": [1, 2, 3, 1], "wd": 0.0, "seed": [0, 0, 0, 0], "rung": [0, 0, 1, 2],
                      "searched": True, "epochs": [2, 2, 4, 8], "epochs_run": [2, 2, 4, 8],
                      "diverged": False})  # fmt: skip
    text = selection_sentence(m)
    assert text.startswith("Hyperparameters: 3 (lr, wd) settings, compared by successive halving "
                           "over 3 rungs")  # fmt: skip
    assert "seed" not in text and "Early stopping" not in text
    m.loc[0, ["epochs_run", "diverged"]] = [1, True]  # a diverged member is not early-stopped
    assert "Early stopping" not in selection_sentence(m)
