"""Executors run independent jobs and hand each result to the driver as soon as it arrives.

One executor serves a whole run, every phase of it::

    with open_executor(config) as ex:
        ex.run(train_jobs, run_train_job, save("train"), phase="train")
        with ex.status("assembling tables"):
            models = assemble(...)
        ex.run(align_jobs, run_align_job, save("align"), phase="align")

The pool or cluster starts at the first :meth:`Executor.run` that has jobs (or at
:meth:`Executor.start`) and stops when the ``with`` block ends. :func:`run_jobs` opens one for a
single call.

``local`` (the default) needs nothing running: a pool of spawned worker processes, each with one
torch thread (one thread per process was measured steady on a shared 2-core machine, where two
threads per process collapsed under load); ``workers <= 1`` runs jobs in this process. ``dask``
sends the same jobs to a Dask distributed cluster: an existing scheduler or a ``LocalCluster``
started for the run. Only the driver writes the store; workers return rows and tensors, so a
cluster needs no shared file system and a crash loses at most the jobs in flight.

Jobs
    A job has ``phase`` and ``key`` (the hash of its inputs) and may have ``label``, a short
    human description such as ``"train U=4 D_phi=3 depth 7"``. Progress lines and errors name a
    job by its label, or by ``"<phase> <key>"`` when it has none.

Progress
    A bar shows the phase, done / total jobs, elapsed and remaining time, and the sub-step the
    caller gives with :meth:`Executor.status` (outside a run, a spinner with a ticking elapsed
    time). With ``quiet`` each finished job logs ``job 12 / 155 (train U=4 D_phi=3 depth 7) done``.

Failures
    A job that raises is recorded and the others go on; :meth:`Executor.run` then raises
    :class:`JobsFailed` naming the failed jobs. Ctrl-C (or an error in ``on_result``) cancels the
    jobs that have not started.

Security
    A local Dask cluster listens on 127.0.0.1 only, with no dashboard, and speaks TLS with a
    temporary self-signed certificate made for the run (``distributed.Security.temporary()``,
    needs ``cryptography``), so no other process can connect and run code in it. Its workers exit
    with the driver. For an existing scheduler, ``ExecutorConfig.security`` is the path of a YAML
    or JSON file, a mapping or a ``distributed.Security``; a file holds either::

        tls_ca_file: ca.pem          # relative paths are read from the file's folder
        tls_client_cert: client.pem
        tls_client_key: client.key

    or Dask's own form (``distributed: comm: tls: {ca-file, client: {cert, key}}``). With a
    security configuration an address without a protocol becomes ``tls://``. Without one, the
    TLS settings of Dask's configuration (``distributed.comm.tls.*`` in ``~/.config/dask/*.yaml``
    or ``DASK_DISTRIBUTED__COMM__TLS__*`` variables) apply, the same way: this is how the command
    line reaches a TLS scheduler. See ``docs/executors.md``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console

from alignlab.experiments._dask import ClusterStartError, reason
from alignlab.experiments._progress import Display, Status, describe, job_count

__all__ = [
    "ClusterStartError",
    "Executor",
    "ExecutorConfig",
    "Job",
    "JobsFailed",
    "describe",
    "open_executor",
    "run_jobs",
]


class Job(Protocol):
    """What an executor needs of a job: its phase and its key (the hash of its inputs).

    A job may also have ``label: str``, a short description used in progress lines and errors.
    """

    phase: str
    key: str


JobFn = Callable[[Any], tuple[list[dict], dict | None]]
OnResult = Callable[[Any, list[dict], dict | None], None]


@dataclass
class ExecutorConfig:
    """How jobs run.

    Attributes
    ----------
    kind : "local" or "dask"
    workers : int
        Worker processes (local pool, or a LocalCluster's workers). 1 runs local jobs in this
        process.
    scheduler : str or None
        Address of an existing Dask scheduler; None starts a secured LocalCluster on 127.0.0.1.
    gpu : bool
        Place jobs on Dask workers that declare a ``GPU`` resource (``--resources GPU=1``).
    quiet : bool
        No progress bar; one log line per finished job instead.
    connect_timeout_s : float
        How long to wait for an existing scheduler.
    security : path, mapping, distributed.Security or None
        TLS settings for an existing scheduler (see the module docstring). Refused for a local
        cluster, which always makes its own temporary certificate.
    """

    kind: str = "local"
    workers: int = 2
    scheduler: str | None = None
    gpu: bool = False
    quiet: bool = False
    connect_timeout_s: float = 10.0
    security: str | os.PathLike | Mapping[str, Any] | Any | None = None


class JobsFailed(RuntimeError):
    """Some jobs raised; the others were stored. Re-running the same command retries them.

    ``failures`` lists ``(key, description, error)`` for every failed job.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


def open_executor(config: ExecutorConfig, console: Console | None = None) -> Executor:
    """An :class:`Executor` for a whole run; use it as a context manager."""
    return Executor(config, console)


def run_jobs(
    jobs: Sequence[Any], fn: JobFn, on_result: OnResult, config: ExecutorConfig, title: str
) -> None:
    """Run ``fn(job)`` for every job and call ``on_result(job, rows, tensors)`` as each ends.

    One executor for this call only; a run of several phases should share one from
    :func:`open_executor`. Raises :class:`JobsFailed` as :meth:`Executor.run` does.
    """
    _check_kind(config)
    if not jobs:
        return
    with open_executor(config) as executor:
        executor.run(jobs, fn, on_result, phase=title)


def _check_kind(config: ExecutorConfig) -> None:
    if config.kind not in ("local", "dask"):
        raise ValueError(f"executor must be 'local' or 'dask', got {config.kind!r}")
    if config.kind == "local" and config.security is not None:
        raise ValueError("a security configuration is for the dask executor's scheduler")


class Executor:
    """Runs the jobs of every phase of a run on one pool or cluster."""

    def __init__(self, config: ExecutorConfig, console: Console | None = None) -> None:
        _check_kind(config)
        self.config = config
        self._display = Display(config.quiet, console or Console())
        self._backend: Any = None
        self._closed = False

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None or not issubclass(exc_type, KeyboardInterrupt))

    @property
    def address(self) -> str | None:
        """The Dask scheduler's address once connected (None for the local executor)."""
        return getattr(self._backend, "address", None)

    def start(self) -> None:
        """Start the pool or cluster now (it otherwise starts at the first run with jobs)."""
        if self._closed:
            raise RuntimeError("this executor is closed; open a new one")
        if self._backend is not None:
            return
        if self.config.kind == "dask":
            from alignlab.experiments._dask import open_dask

            with self.status("starting the Dask cluster"):
                self._backend = open_dask(self.config, self._display.log)
        elif self.config.workers <= 1:
            self._backend = _InProcess()
        else:
            self._backend = _Pool(self.config.workers)

    def run(
        self, jobs: Sequence[Any], fn: JobFn, on_result: OnResult, phase: str | None = None
    ) -> None:
        """Run ``fn(job)`` for every job and call ``on_result(job, rows, tensors)`` as each ends.

        ``on_result`` runs in this process, one job at a time. A job that raises is recorded and
        the rest go on; :class:`JobsFailed` is raised at the end naming the failed jobs.
        """
        jobs = list(jobs)
        if not jobs:
            return
        self.start()
        failures: list[tuple[str, str, str]] = []
        total = sum(job_count(job) for job in jobs)  # a pack counts as the jobs it holds
        with self._display.bar(phase or jobs[0].phase, total) as bar:

            def finished(job: Any, outcome: Any) -> None:
                if isinstance(outcome, BaseException):
                    failures.append((job.key, describe(job), reason(outcome)))
                    bar.failed(job, failures[-1][2])
                else:
                    on_result(job, *outcome)
                    bar.done(job)

            self._backend.run(jobs, fn, finished)
        if failures:
            names = ", ".join(name for _, name, _ in failures[:5])
            more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
            raise JobsFailed(
                f"{len(failures)} job(s) failed ({names}{more}); first error: {failures[0][2]}. "
                "The other jobs are stored: run the same command again to retry only the "
                "missing ones.",
                failures,
            )

    def log(self, line: str) -> None:
        """Print one line (above the bar while a phase runs)."""
        self._display.log(line)

    def status(self, text: str | None) -> Status:
        """Show a sub-step (``"assembling tables"``) until the next call, or None to clear it.

        In a run it shows beside the bar; between runs as a spinner whose elapsed time ticks;
        with ``quiet`` it logs one line. Usable as ``with ex.status("..."):``, which clears it.
        """
        self._display.status(text)
        return Status(self._display, text)

    def close(self, wait: bool = True) -> None:
        """Stop the pool or cluster (``wait=False``: without waiting for running jobs)."""
        self._closed = True
        self._display.status(None)
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close(wait=wait)


# -- local backends ----------------------------------------------------------------------------
class _InProcess:
    def run(self, jobs: Sequence[Any], fn: JobFn, finished: Callable) -> None:
        for job in jobs:
            try:
                outcome: Any = fn(job)
            except Exception as exc:  # noqa: BLE001 - recorded and reported at the end
                outcome = exc
            finished(job, outcome)

    def close(self, wait: bool = True) -> None:
        pass


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


class _Pool:
    """Spawned worker processes, one torch thread each, kept for every phase of the run."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def run(self, jobs: Sequence[Any], fn: JobFn, finished: Callable) -> None:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_init_worker
            )
        pending: dict[Future, Any] = {self._pool.submit(fn, job): job for job in jobs}
        broken = False
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    error = future.exception()
                    broken = broken or isinstance(error, BrokenProcessPool)
                    finished(job, error if error is not None else future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        finally:
            if broken:  # a worker died: the next phase gets a fresh pool
                self.close(wait=False)

    def close(self, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
