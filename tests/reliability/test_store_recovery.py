"""The run store after a crash or a failure: temporary files, damaged job files, a run that
stored nothing, a second run at once, and ``status``."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from alignlab.experiments import ExecutorConfig, run_status, run_study
from alignlab.experiments.store import RunStore
from alignlab.studies.multibench.spec import MultiBenchStudySpec
from alignlab.studies.synthetic import SyntheticStudySpec

from .conftest import TINY_SYNTHETIC

SPEC = SyntheticStudySpec(**TINY_SYNTHETIC)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
    return run_dir


def _copy(run_dir, tmp_path):
    import shutil

    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def _table(run_dir, name):
    return pd.read_parquet(run_dir / "tables" / f"{name}.parquet")


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_run(finished, tmp_path):
    run_dir = _copy(finished, tmp_path)
    left = [run_dir / ".run.json.abc123.tmp", run_dir / "jobs" / "train" / ".k.parquet.x1y2.tmp",
            run_dir / "tables" / ".models.parquet.zz.tmp"]  # fmt: skip
    for path in left:
        path.write_bytes(b"half")
    (run_dir / "notes.tmp").write_text("the user's own file")  # not an alignlab temporary
    outcome = run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
    assert outcome.jobs_run == {"train": 0, "align": 0}
    assert not any(p.exists() for p in left)
    assert (run_dir / "notes.tmp").exists()


def test_a_kill_inside_the_claim_does_not_block_the_same_command(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".run.json.q7w8e9.tmp").write_text('{"format": 3')  # killed mid-claim
    store = RunStore(run_dir)
    assert store.open_for("synthetic", {"a": 1}, "a: 1\n", "f" * 16) is False
    store.release()
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json", "spec.yaml"]


@pytest.mark.parametrize("damage", ["rows", "tensors"])
def test_a_truncated_job_file_is_computed_again(finished, tmp_path, capsys, damage):
    run_dir = _copy(finished, tmp_path)
    suffix = ".parquet" if damage == "rows" else ".pt"
    victim = sorted((run_dir / "jobs" / "train").glob(f"*{suffix}"))[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    outcome = run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
    assert outcome.jobs_run == {"train": 1, "align": 0}  # retrained alike: same align key
    shown = capsys.readouterr().out
    assert f"jobs/train/{victim.stem} could not be read (truncated?)" in shown
    for name in ("models", "alignments"):
        pd.testing.assert_frame_equal(_table(run_dir, name), _table(finished, name))


def test_a_run_that_fails_before_any_job_leaves_nothing_and_the_fixed_command_runs(tmp_path):
    pytest.importorskip("distributed")
    run_dir = tmp_path / "new" / "run"
    unreachable = ExecutorConfig(kind="dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=1)
    with pytest.raises(ValueError, match="did not answer"):
        run_study(SPEC, run_dir, unreachable)
    assert not (tmp_path / "new").exists()
    other = SyntheticStudySpec(**{**TINY_SYNTHETIC, "epochs2": 2})
    outcome = run_study(other, run_dir, ExecutorConfig(workers=1, quiet=True))
    assert outcome.jobs_run == {"train": 2, "align": 1}


def test_a_failure_in_an_existing_empty_folder_leaves_it_empty(tmp_path, monkeypatch):
    import alignlab.experiments.runner as runner

    def broken(config):
        raise ValueError("the scheduler is gone")

    monkeypatch.setattr(runner, "open_executor", broken)
    with pytest.raises(ValueError, match="gone"):
        run_study(SPEC, tmp_path, ExecutorConfig(workers=1))
    assert list(tmp_path.iterdir()) == []


def test_a_second_run_of_a_directory_in_use_is_refused(finished, tmp_path):
    run_dir = _copy(finished, tmp_path)
    first = RunStore(run_dir)
    claim = first.claim()
    first.open_for("synthetic", claim["spec"], "x", claim["fingerprint"])
    (run_dir / ".plan.json.live.tmp").write_text("{")  # the running run's write in flight
    try:
        with pytest.raises(FileExistsError, match="in use by another alignlab run"):
            run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
        assert (run_dir / ".plan.json.live.tmp").exists()  # not swept from under the run
        status = run_status(run_dir)
        assert status.running and not status.finished and "now" in status.next_step
    finally:
        first.release()


def test_status_lists_every_phase_in_order_and_says_how_to_continue(finished, tmp_path):
    started = time.perf_counter()
    status = run_status(finished)
    assert time.perf_counter() - started < 1.0
    assert list(status.phases) == ["train", "align"]
    assert status.phases == {"train": (2, 2), "align": (1, 1)}
    assert status.finished and "alignlab report" in status.next_step

    run_dir = _copy(finished, tmp_path)
    (run_dir / "jobs" / "align").rename(run_dir / "align-moved")
    env = json.loads((run_dir / "environment.json").read_text())
    env["runs"][-1].pop("finished")
    (run_dir / "environment.json").write_text(json.dumps(env))
    status = run_status(run_dir)
    assert not status.finished and status.phases["align"] == (0, 1)
    assert f"alignlab run synthetic {run_dir} --config {run_dir / 'spec.yaml'}" in status.next_step


@pytest.mark.parametrize("damage", ["truncated", "missing", "fewer rows"])
def test_status_says_finished_only_when_every_table_reads_whole(finished, tmp_path, damage):
    run_dir = _copy(finished, tmp_path)
    table = run_dir / "tables" / "alignments.parquet"
    if damage == "truncated":
        table.write_bytes(table.read_bytes()[:100])
    elif damage == "missing":
        table.unlink()
    else:
        _table(run_dir, "alignments").iloc[:1].to_parquet(table)
    status = run_status(run_dir)
    assert not status.finished
    assert len(status.problems) == 1 and "alignments.parquet" in status.problems[0]
    assert "continue with `alignlab run synthetic" in status.next_step


def test_status_knows_the_multibench_totals_from_the_dataset_name():
    assert MultiBenchStudySpec(dataset="mosi", depths=[1, 2]).known_totals() == {
        "train": 6,
        "align": 6,
    }
    assert MultiBenchStudySpec(dataset="avdigits").known_totals() == {"train": 20, "align": 2}
    spec = MultiBenchStudySpec(dataset="mosi", modalities=["text", "audio"], depths=[3])
    assert spec.known_totals() == {"train": 2, "align": 2}
    assert MultiBenchStudySpec(dataset="custom").known_totals() == {}


def test_a_refused_directory_is_left_exactly_as_it_was(tmp_path):
    (tmp_path / "plan.json").write_text("the user's own plan")
    (tmp_path / "jobs").mkdir()
    with pytest.raises(FileExistsError, match="not empty and holds no alignlab run"):
        run_study(SPEC, tmp_path, ExecutorConfig(workers=1, quiet=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs", "plan.json"]
    assert (tmp_path / "plan.json").read_text() == "the user's own plan"


def test_status_answers_from_the_run_directory_without_importing_the_study(finished):
    import subprocess
    import sys

    code = (
        "import sys, time; import alignlab.experiments.status as s; t = time.process_time(); "
        f"st = s.run_status({str(finished)!r}); t = time.process_time() - t; "
        "print(st.phases, st.finished, 'alignlab.studies' in sys.modules, t < 0.5)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split("\n")[0] == "{'train': (2, 2), 'align': (1, 1)} True False True"


def test_a_damaged_readable_spec_copy_is_rewritten_on_resume(finished, tmp_path):
    run_dir = _copy(finished, tmp_path)
    whole = (run_dir / "spec.yaml").read_bytes()
    (run_dir / "spec.yaml").write_bytes(whole[:20])
    run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
    assert (run_dir / "spec.yaml").read_bytes() == whole == SPEC.to_yaml().encode()


@pytest.mark.parametrize("target", ["foreign", "file", "in use"])
def test_the_run_directory_is_checked_before_the_inputs_are_prepared(
    finished, tmp_path, monkeypatch, target
):
    from dataclasses import replace

    from alignlab.experiments import registry

    prepared = []
    study = registry.get_study("synthetic")
    spy = replace(study, prepare=lambda spec, **kw: prepared.append(spec) or study.prepare(spec))
    monkeypatch.setitem(registry._STUDIES, "synthetic", spy)
    run_dir = tmp_path / "run"
    holder = None
    if target == "foreign":
        run_dir.mkdir()
        (run_dir / "data.csv").write_text("x")
    elif target == "file":
        run_dir.write_text("x")
    else:
        run_dir = _copy(finished, tmp_path)
        holder = RunStore(run_dir)
        claim = holder.claim()
        holder.open_for("synthetic", claim["spec"], SPEC.to_yaml(), claim["fingerprint"])
    try:
        with pytest.raises((FileExistsError, NotADirectoryError)):
            run_study(SPEC, run_dir, ExecutorConfig(workers=1, quiet=True))
    finally:
        if holder is not None:
            holder.release()
    assert prepared == []
