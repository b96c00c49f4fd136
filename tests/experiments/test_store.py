"""The run store: atomic writes, refusing to mix specs, job bookkeeping."""

import pandas as pd
import pytest
import torch

from alignlab.experiments.store import RunStore, atomic_write_bytes


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.bin"
    atomic_write_bytes(target, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]  # no temporary file left


def _claim(store, a, fingerprint):
    return store.open_for("toy", {"a": a}, f"a: {a}\n", fingerprint)


def test_a_run_directory_refuses_a_different_spec(tmp_path):
    store = RunStore(tmp_path / "run")
    assert _claim(store, 1, "aaaa") is False
    assert _claim(store, 1, "aaaa") is True  # resuming the same spec
    with pytest.raises(FileExistsError, match="different spec .* Use a new run directory"):
        _claim(store, 2, "bbbb")
    assert store.stored_spec() == {"a": 1} and store.claim()["study"] == "toy"


def test_a_crash_after_the_claim_resumes_and_rewrites_the_readable_spec(tmp_path):
    store = RunStore(tmp_path / "run")
    _claim(store, 1, "aaaa")
    store.spec_path.unlink()  # killed between the claim and the readable copy
    assert _claim(store, 1, "aaaa") is True
    assert store.spec_path.read_text() == "a: 1\n"


def test_a_run_of_an_older_store_format_is_refused_with_a_clear_message(tmp_path):
    (tmp_path / "spec.yaml").write_text("a: 1\n")
    (tmp_path / "fingerprint").write_text("abcd\n")  # the layout of store format 1
    with pytest.raises(FileExistsError, match="older alignlab .*store format 1"):
        _claim(RunStore(tmp_path), 1, "aaaa")


def test_a_foreign_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no alignlab run"):
        _claim(RunStore(tmp_path), 1, "aaaa")


def test_jobs_round_trip_and_assemble_in_order(tmp_path):
    store = RunStore(tmp_path)
    store.save_job("train", "k2", [{"a": 2}], {"w": torch.ones(2)})
    store.save_job("train", "k1", [{"a": 1}, {"a": 11}])
    assert store.done_keys("train") == {"k1", "k2"}
    assert torch.equal(store.job_tensors("train", "k2")["w"], torch.ones(2))
    frame = store.assemble("train", ["k1", "k2"])
    assert frame["a"].tolist() == [1, 11, 2]
    pd.testing.assert_frame_equal(store.table("models"), frame)
