"""Executors: every job runs once, results reach the store, failures are reported at the end.

One executor serves every phase of a run; a local Dask cluster starts despite a worker dying on
the way, speaks TLS only, and refuses a client without its certificate.
"""

import io
import json
import multiprocessing
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from alignlab.experiments import ExecutorConfig, JobsFailed, _dask, run_jobs
from alignlab.experiments.executors import ClusterStartError, describe, open_executor


@dataclass(frozen=True)
class Square:
    value: int
    phase: str = "test"
    label: str | None = None
    marker_dir: str | None = None

    @property
    def key(self) -> str:
        return f"sq{self.value}"


def square_job(job: Square):
    import torch

    if job.marker_dir is not None:  # a slow job that leaves a mark when it runs
        Path(job.marker_dir, job.key).touch()
        time.sleep(0.3)
    if job.value < 0:
        raise RuntimeError(f"negative input {job.value}")
    row = {"value": job.value, "square": job.value**2, "threads": torch.get_num_threads()}
    return [row | {"pid": os.getpid()}], None


def _collect(jobs, config):
    got = {}
    run_jobs(jobs, square_job, lambda job, rows, t: got.update({job.key: rows[0]}), config, "t")
    return got


def _quiet_console():
    buffer = io.StringIO()
    return Console(file=buffer, width=200), buffer


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_runs_every_job_once(workers):
    jobs = [Square(v) for v in range(5)]
    got = _collect(jobs, ExecutorConfig(workers=workers, quiet=True))
    assert {k: r["square"] for k, r in got.items()} == {f"sq{v}": v * v for v in range(5)}
    if workers > 1:  # worker processes run one torch thread each
        assert {r["threads"] for r in got.values()} == {1}


def test_one_pool_serves_every_phase_and_a_failed_job_is_named():
    got = {}
    save = lambda job, rows, t: got.update({(job.phase, job.key): rows[0]})  # noqa: E731
    with open_executor(ExecutorConfig(workers=2, quiet=True)) as ex:
        first = [Square(1, "a"), Square(-2, "a", label="square of -2"), Square(3, "a")]
        with pytest.raises(JobsFailed, match=r"1 job\(s\) failed \(square of -2\).*negative") as e:
            ex.run(first, square_job, save, phase="a")
        workers = {child.pid for child in multiprocessing.active_children()}
        ex.run([Square(v, "b") for v in range(4)], square_job, save, phase="b")
        assert {child.pid for child in multiprocessing.active_children()} == workers
    assert e.value.failures == [("sq-2", "square of -2", "RuntimeError: negative input -2")]
    assert set(got) == {("a", "sq1"), ("a", "sq3")} | {("b", f"sq{v}") for v in range(4)}
    assert len(workers) == 2 and {row["pid"] for row in got.values()} <= workers


def test_an_interrupted_run_cancels_the_jobs_not_started(tmp_path):
    jobs = [Square(v, marker_dir=str(tmp_path)) for v in range(20)]

    def stop(job, rows, tensors):
        raise RuntimeError("the store is full")

    # the same path as Ctrl-C, but closing waits for the jobs already handed to a worker
    config = ExecutorConfig(workers=2, quiet=True)
    with pytest.raises(RuntimeError, match="store is full"), open_executor(config) as ex:
        ex.run(jobs, square_job, stop)
    assert len(list(tmp_path.iterdir())) < len(jobs)


def test_quiet_lines_name_each_job_by_label_or_phase_and_key():
    console, out = _quiet_console()
    jobs = [Square(1, "train", label="train U=4 depth 7"), Square(2, "train"),
            Square(-3, "train", label="train U=8 depth 1")]
    with open_executor(ExecutorConfig(workers=1, quiet=True), console) as ex:
        with pytest.raises(JobsFailed, match=r"\(train U=8 depth 1\)"):
            ex.run(jobs, square_job, lambda *a: None, phase="train")
        with ex.status("assembling tables"):
            pass
    lines = out.getvalue().splitlines()
    assert lines == [
        "train: 3 job(s)",
        "job 1 / 3 (train U=4 depth 7) done",
        "job 2 / 3 (train sq2) done",
        "job 3 / 3 (train U=8 depth 1) failed: RuntimeError: negative input -3",
        "assembling tables",
    ]
    assert describe(Square(5, "align")) == "align sq5"


def test_the_bar_shows_phase_count_and_sub_step():
    out = io.StringIO()
    console = Console(file=out, width=150, force_terminal=True, color_system=None)
    jobs = [Square(1), Square(2)]
    with open_executor(ExecutorConfig(workers=1), console) as ex:
        ex.run(jobs, square_job, lambda job, *a: ex.status(f"saving {job.key}"), phase="train")
        ex.status("assembling tables")
    text = out.getvalue()
    assert "train" in text and "2/2" in text and "saving sq1" in text
    assert "assembling tables" in text


def test_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="executor must be 'local' or 'dask'"):
        run_jobs([Square(1)], square_job, lambda *a: None, ExecutorConfig(kind="ray"), "t")
    with pytest.raises(ValueError, match="executor must be 'local' or 'dask'"):
        open_executor(ExecutorConfig(kind="ray"))
    with pytest.raises(ValueError, match="security configuration is for the dask executor"):
        open_executor(ExecutorConfig(security="tls.yaml"))


def test_dask_scheduler_that_does_not_answer_gives_a_clear_error():
    pytest.importorskip("distributed")
    config = ExecutorConfig(
        kind="dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=1, quiet=True
    )
    with pytest.raises(ValueError, match="did not answer .* check the address"):
        run_jobs([Square(1)], square_job, lambda *a: None, config, "t")


def test_a_cluster_that_never_starts_is_one_clear_line(monkeypatch):
    pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    tries = []

    def dies(*args):
        tries.append(args)
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(_dask, "_new_cluster", dies)
    monkeypatch.setattr(_dask, "START_BACKOFF_S", (0.0,))
    console, out = _quiet_console()
    with pytest.raises(ClusterStartError, match="did not start after 3 tries") as err:
        with open_executor(ExecutorConfig(kind="dask", workers=1, quiet=True), console) as ex:
            ex.run([Square(1)], square_job, lambda *a: None)
    assert len(tries) == 3 and "\n" not in str(err.value)
    assert "Nanny failed to start" in str(err.value)
    assert out.getvalue().count("trying again") == 2


def _write_security_file(tmp_path, security, form):
    for name, text in [("ca.pem", security.tls_ca_file), ("client.pem", security.tls_client_cert),
                       ("client.key", security.tls_client_key)]:
        (tmp_path / name).write_text(text)
    if form == "flat":
        mapping = {"tls_ca_file": "ca.pem", "tls_client_cert": "client.pem",
                   "tls_client_key": "client.key"}
    else:
        tls = {"ca-file": "ca.pem", "client": {"cert": "client.pem", "key": "client.key"}}
        mapping = {"distributed": {"comm": {"require-encryption": True, "tls": tls}}}
    path = tmp_path / f"security-{form}.json"
    path.write_text(json.dumps(mapping))
    return path


def _tls_hello_without_certificate(port):
    """Speak TLS to the scheduler without a client certificate; raise when it hangs up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"\0" * 8)
            if not tls.recv(1):
                raise ConnectionResetError("the scheduler closed the connection")


def test_local_dask_cluster_is_secured_shared_by_phases_and_survives_a_failed_start(
    monkeypatch, tmp_path
):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    real, starts = _dask._new_cluster, []

    def dies_once(*args):  # the first worker dies while the cluster starts
        starts.append(args)
        if len(starts) == 1:
            raise RuntimeError("Nanny failed to start.")
        return real(*args)

    monkeypatch.setattr(_dask, "_new_cluster", dies_once)
    monkeypatch.setattr(_dask, "START_BACKOFF_S", (0.1,))
    console, out = _quiet_console()
    got = {}
    save = lambda job, rows, t: got.update({(job.phase, job.key): rows[0]})  # noqa: E731
    config = ExecutorConfig(kind="dask", workers=1, quiet=True, connect_timeout_s=30)
    with open_executor(config, console) as ex:
        ex.run([Square(v, "a") for v in range(3)], square_job, save)
        address = ex.address
        assert address.startswith("tls://127.0.0.1:")
        with pytest.raises(JobsFailed, match=r"\(b sq-1\).*negative input -1"):
            ex.run([Square(-1, "b"), Square(4, "b")], square_job, save)
        assert ex.address == address and len(starts) == 2  # one cluster for both phases
        workers = ex._backend.client.scheduler_info()["workers"]
        assert workers and all(w.startswith("tls://127.0.0.1:") for w in workers)

        # plain TCP, TLS without a certificate, another certificate: all refused
        port = int(address.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            distributed.Client(address.replace("tls://", "tcp://"), timeout=2)
        with pytest.raises(OSError):
            _tls_hello_without_certificate(port)
        with pytest.raises(OSError):
            distributed.Client(address, security=distributed.Security.temporary(), timeout=2)

        # the cluster's own client certificate, read from a security file: accepted
        for form in ("flat", "dask"):
            path = _write_security_file(tmp_path, ex._backend.security, form)
            remote = ExecutorConfig(kind="dask", scheduler=address.removeprefix("tls://"),
                                    security=str(path), quiet=True, connect_timeout_s=30)
            run_jobs([Square(7, form)], square_job, save, remote, form)
    assert {k: r["square"] for k, r in got.items()} == {
        ("a", "sq0"): 0, ("a", "sq1"): 1, ("a", "sq2"): 4, ("b", "sq4"): 16,
        ("flat", "sq7"): 49, ("dask", "sq7"): 49,
    }
    assert {r["threads"] for r in got.values()} == {1}
    assert "trying again" in out.getvalue()
    with pytest.raises(OSError):  # the scheduler stopped with the executor
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_security_files_are_checked_before_connecting(tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "c.pem").write_text("x")
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("tls_ca_file: ca.pem\ntls_client_cert: c.pem\ntls_cert: c.pem\n")
    with pytest.raises(ValueError, match="unknown key.*tls_cert"):
        _dask.load_security(bad_key)
    missing = tmp_path / "missing.yaml"
    missing.write_text("tls_ca_file: ca.pem\ntls_client_cert: nowhere.pem\n")
    with pytest.raises(FileNotFoundError, match="tls_client_cert .*nowhere.pem is not a file"):
        _dask.load_security(missing)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _dask.load_security(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        _dask.load_security(tmp_path / "list.yaml")
    good = _dask.load_security({"tls_ca_file": str(tmp_path / "ca.pem"),
                                "tls_client_cert": str(tmp_path / "c.pem")})
    assert good.require_encryption and good.tls_ca_file == str(tmp_path / "ca.pem")
    assert _dask.scheduler_address("10.0.0.5:8786", good) == "tls://10.0.0.5:8786"
    with pytest.raises(ValueError, match="requires TLS"):
        _dask.scheduler_address("tcp://10.0.0.5:8786", good)
    with pytest.raises(ValueError, match="is for an existing scheduler"):
        _dask.open_dask(ExecutorConfig(kind="dask", security=str(bad_key)), print)
