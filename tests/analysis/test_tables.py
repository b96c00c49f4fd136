"""Loading a run directory: required files, missing columns, job files of an unfinished run."""

import pandas as pd
import pytest

from alignlab.analysis import tables as t


def test_load_run_reads_everything(small_run):
    run = t.load_run(small_run)
    assert run.spec_text.startswith("study: synthetic")
    assert run.environment["torch"] == "2.13.0"
    assert set(t.ALIGNMENT_COLUMNS) <= set(run.alignments.columns)
    assert set(t.MODEL_COLUMNS) <= set(run.models.columns)
    assert run.notes == []


def test_missing_run_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"run directory {tmp_path / 'nope'} does not"):
        t.load_run(tmp_path / "nope")


def test_run_without_results_names_the_missing_table(tmp_path, run_writer):
    run_writer(tmp_path / "run", None)
    with pytest.raises(FileNotFoundError, match="tables/alignments.parquet is missing"):
        t.load_run(tmp_path / "run")


def test_empty_results_are_refused(tmp_path, run_writer):
    run_writer(tmp_path / "run", pd.DataFrame({"u": pd.Series([], dtype=int)}))
    with pytest.raises(FileNotFoundError, match="has no rows"):
        t.load_run(tmp_path / "run")


def test_missing_columns_and_files_become_notes(tmp_path, run_writer, alignments_table):
    root = run_writer(
        tmp_path / "run", alignments_table(us=[0]).drop(columns=["perf_b", "layer_a"])
    )
    (root / "environment.json").unlink()
    run = t.load_run(root)
    assert "tables/alignments.parquet lacks column(s) layer_a, perf_b" in run.notes
    assert any("environment.json is missing" in n for n in run.notes)
    assert any("models.parquet is missing" in n for n in run.notes)
    assert run.environment == {}


def test_unfinished_run_is_read_from_job_files(tmp_path, alignments_table):
    root = tmp_path / "run"
    (root / "jobs" / "align").mkdir(parents=True)
    table = alignments_table(us=[0, 1])
    for u, part in table.groupby("u"):
        part.to_parquet(root / "jobs" / "align" / f"job{u}.parquet", index=False)
    run = t.load_run(root)
    assert len(run.alignments) == len(table)
    assert any("read 2 finished job file(s) from jobs/align/" in n for n in run.notes)
    assert run.spec_text is None


def test_require_columns_names_what_is_missing():
    with pytest.raises(t.MissingColumnsError, match=r"fig needs column\(s\) perf_b, score"):
        t.require_columns(pd.DataFrame({"u": [1]}), ["u", "perf_b", "score"], "fig")
