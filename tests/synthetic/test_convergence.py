"""Convergence of a run's selected models: shares per (modality, depth), warnings with numbers."""

import pandas as pd
import pytest

from alignlab.analysis.convergence import (
    COLUMNS,
    convergence_summary,
    undertrained_modalities,
)


def _models(rows):
    """rows: (modality, depth, best_epoch, epochs, diverged, selected)."""
    frame = pd.DataFrame(
        rows, columns=["modality", "depth", "best_epoch", "epochs", "diverged", "selected"]
    )
    frame["best_is_last"] = frame["best_epoch"] == frame["epochs"] - 1
    return frame


def test_shares_count_selected_members_only():
    m = _models(
        [("x1", 1, 7, 8, False, True)] * 1
        + [("x1", 1, 2, 8, False, True)] * 9  # 1 of 10 at the last epoch: 10%
        + [("x1", 1, 7, 8, False, False)] * 30  # not selected: ignored
        + [("x2", 4, 11, 12, False, True)] * 3
        + [("x2", 4, 5, 12, False, True)] * 2  # 3 of 5: 60%
        + [("x2", 10, 11, 12, True, True)]  # diverged: not a last-epoch peak
        + [("x2", 10, 4, 12, False, True)] * 3
    )
    table, warnings = convergence_summary(m)
    assert list(table.columns) == COLUMNS
    rows = {(r.modality, r.depth): r for r in table.itertuples()}
    assert (rows["x1", 1].n_selected, rows["x1", 1].n_best_last) == (10, 1)
    assert rows["x1", 1].share_best_last == pytest.approx(0.1)
    assert rows["x2", 4].share_best_last == pytest.approx(0.6)
    assert rows["x2", 4].median_best_epoch == 11
    assert (rows["x2", 10].n_best_last, rows["x2", 10].n_diverged) == (0, 1)
    assert table["undertrained"].tolist() == [False, True, False]
    assert warnings == [
        "x2 is undertrained: at 1 of 2 depths more than 20% of the selected models kept their "
        "last epoch (60% at depth 4, of 12 epochs); they were still improving, so accuracy and "
        "alignment against depth describe models that had not finished learning; train longer"
    ]
    assert undertrained_modalities(table) == ["x2"]


def test_the_threshold_is_strict():
    m = _models([("x2", 1, 9, 10, False, True)] + [("x2", 1, 3, 10, False, True)] * 4)  # 20%
    table, warnings = convergence_summary(m, threshold=0.2)
    assert table["share_best_last"].tolist() == [0.2] and warnings == []
    assert len(convergence_summary(m, threshold=0.19)[1]) == 1


def test_converged_run_has_no_warnings_and_empty_input_is_fine():
    m = _models([("x1", d, 3, 50, False, True) for d in (1, 2, 3)])
    table, warnings = convergence_summary(m)
    assert warnings == [] and not table["undertrained"].any()
    empty, none = convergence_summary(m.iloc[:0])
    assert empty.empty and list(empty.columns) == COLUMNS and none == []


def test_without_a_selected_column_every_member_counts():
    m = _models([("x1", 1, 7, 8, False, False), ("x1", 1, 1, 8, False, False)]).drop(
        columns="selected"
    )
    table, _ = convergence_summary(m)
    assert table["share_best_last"].tolist() == [0.5]


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"\['best_is_last'\]"):
        convergence_summary(_models([]).drop(columns="best_is_last"))
