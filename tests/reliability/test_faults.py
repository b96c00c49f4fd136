"""Nothing lost, nothing half-done: a tiny synthetic study killed (SIGKILL) at chosen points
resumes to the tables of an uninterrupted run, with no duplicate or missing row and no stray file.

The kills come from ``ALIGNLAB_FAULT`` (:func:`alignlab._io.fault_point`): ``write`` kills inside
an atomic write (the temporary file written, not yet renamed: the first one of a new run is the
claim, ``run.json``), ``renamed`` just after a file is in place. The default run aims at the
claim, the window between the claim and ``spec.yaml`` (the window of issue 15) and the final table
assembly; the slow test kills at every write and every rename of the run in turn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from alignlab.experiments import ExecutorConfig, run_study
from alignlab.studies.synthetic import SyntheticStudySpec

from .conftest import TINY_SYNTHETIC

TABLES = ("models", "alignments")


def _files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def _tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(run_dir / "tables" / f"{name}.parquet") for name in TABLES}


def _kill(run_dir: Path, spec_file: Path, fault: str) -> int:
    """``alignlab run synthetic`` in a new process with ``ALIGNLAB_FAULT=fault``; its exit code."""
    env = {**os.environ, "ALIGNLAB_FAULT": fault}
    args = [sys.executable, "-m", "alignlab.cli", "run", "synthetic", str(run_dir),
            "--config", str(spec_file), "--workers", "1", "--quiet"]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, -9), done.stderr  # finished, or killed as asked
    return done.returncode


def _resume(run_dir: Path):
    return run_study(SyntheticStudySpec(**TINY_SYNTHETIC), run_dir, ExecutorConfig(workers=1))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its tables and its files."""
    root = tmp_path_factory.mktemp("reference")
    spec_file = root / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump(TINY_SYNTHETIC))
    run_dir = root / "run"
    outcome = _resume(run_dir)
    assert outcome.jobs_run == {"train": 2, "align": 1}
    return spec_file, _tables(run_dir), _files(run_dir)


def _check_same_as_reference(run_dir: Path, reference) -> None:
    _, tables, files = reference
    found = _tables(run_dir)
    for name in TABLES:
        pd.testing.assert_frame_equal(found[name], tables[name])
        assert found[name]["key"].is_unique
    assert len(found["models"]) == 8 and len(found["alignments"]) == 2
    assert _files(run_dir) == files  # no temporary file, nothing missing
    runs = json.loads((run_dir / "environment.json").read_text())["runs"]
    assert "finished" in runs[-1]


@pytest.mark.parametrize(
    "fault",
    ["write=run.json:1", "renamed=run.json:1", "write=alignments.parquet:1"],
    ids=["inside-the-claim", "between-claim-and-spec", "final-table-assembly"],
)
def test_a_run_killed_at_a_critical_point_resumes_to_the_same_tables(fault, reference, tmp_path):
    spec_file = reference[0]
    run_dir = tmp_path / "run"
    assert _kill(run_dir, spec_file, fault) == -9
    outcome = _resume(run_dir)
    _check_same_as_reference(run_dir, reference)
    if fault.startswith("write=alignments"):  # every job was stored before the kill
        assert outcome.jobs_run == {"train": 0, "align": 0}


@pytest.mark.slow
@pytest.mark.parametrize("point", ["write", "renamed"])
def test_a_run_killed_at_every_write_resumes_to_the_same_tables(point, reference, tmp_path):
    spec_file = reference[0]
    kills = 0
    for count in range(1, 100):
        run_dir = tmp_path / f"run{count}"
        if _kill(run_dir, spec_file, f"{point}:{count}") == 0:
            break  # the run has fewer writes: every one of them was a kill point
        kills += 1
        _resume(run_dir)
        _check_same_as_reference(run_dir, reference)
    assert kills >= 14  # claim, spec, environment, plan, 2 x (tensors, rows), tables, README...


def test_a_killed_run_is_killed_twice_and_still_resumes(reference, tmp_path):
    """A kill in the first train job's write, then one in the resumed run's table assembly."""
    spec_file = reference[0]
    run_dir = tmp_path / "run"
    assert _kill(run_dir, spec_file, "write=environment.json:1") == -9
    assert _kill(run_dir, spec_file, "write=models.parquet:1") == -9
    outcome = _resume(run_dir)
    _check_same_as_reference(run_dir, reference)
    assert outcome.jobs_run == {"train": 0, "align": 1}
