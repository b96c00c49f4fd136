"""Running any registered study into a resumable run directory.

:func:`run_study` is the same for every study: check the device, prepare (inputs loaded and
checked before the run directory is touched), claim and lock the directory atomically (removing
temporary files a killed run left), drop job files found damaged, record the environment, run
the study's phases through one executor, record the end and the tables written, write the run's
README. A run that fails before storing any job removes what it wrote, so the corrected command
starts afresh. A study's own code only says which jobs each phase has and how tables are
assembled from their rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alignlab._device import resolve_device
from alignlab._io import atomic_write_text, check_writable
from alignlab.experiments.environment import RunRecord
from alignlab.experiments.executors import Executor, ExecutorConfig, open_executor
from alignlab.experiments.jobpack import JobPack, parts_of
from alignlab.experiments.registry import Prepared, get_study
from alignlab.experiments.spec import StudySpec
from alignlab.experiments.store import PLAN, RunStore, first_missing, read_plan


@dataclass
class RunContext:
    """What a study's ``run`` uses: the store, the executor, and per-phase bookkeeping."""

    store: RunStore
    executor: ExecutorConfig
    pool: Executor  # one pool or cluster for the whole run
    jobs_run: dict[str, int] = field(default_factory=dict)

    def run_phase(
        self,
        phase: str,
        jobs: Sequence[Any],
        fn: Callable,
        title: str,
        total: int | None = None,
    ) -> list[str]:
        """Run the jobs of ``phase`` that are not stored yet; returns every job's key in order.

        ``fn(job) -> (rows, tensors or None)`` runs in a worker (a module-level function, so
        it can be sent to another process); the driver stores each result as it arrives. A job
        has ``phase``, ``key`` and, for progress lines, ``label``. ``total`` is the phase's job
        count where ``jobs`` are only part of it (a phase run in several calls); default
        ``len(jobs)``. A :class:`JobPack` runs its parts in one call of ``fn``, which returns
        a list of rows and a list of tensors, one of each per part; each part is stored (and
        counted) as the job it is; parts already stored are not stored again.
        """
        keys = [part.key for job in jobs for part in parts_of(job)]
        self.record_total(phase, len(keys) if total is None else total)
        done = self.store.done_keys(phase)
        todo = [job for job in jobs if any(part.key not in done for part in parts_of(job))]
        self.pool.run(
            todo, fn, lambda job, rows, tensors: self._save(phase, job, rows, tensors, done),
            phase=title,
        )  # fmt: skip
        new = sum(part.key not in done for job in todo for part in parts_of(job))
        self.jobs_run[phase] = self.jobs_run.get(phase, 0) + new
        return keys

    def _save(self, phase: str, job: Any, rows: Any, tensors: Any, done: set[str]) -> None:
        """Store a job's result; a pack's parts each under their own key, those stored before
        it ran (a pack rerun for a missing part) left as they are."""
        if not isinstance(job, JobPack):
            self.store.save_job(phase, job.key, rows, tensors)
            return
        for part, part_rows, part_tensors in zip(job.parts, rows, tensors, strict=True):
            if part.key not in done:
                self.store.save_job(phase, part.key, part_rows, part_tensors)

    def record_total(self, phase: str, total: int) -> None:
        """Remember how many jobs ``phase`` has, for ``alignlab status``."""
        plan = read_plan(self.store.root)
        if plan.get(phase) != total:
            atomic_write_text(self.store.root / PLAN, json.dumps(plan | {phase: total}, indent=1))

    def rows(self, phase: str, keys: Sequence[str]) -> pd.DataFrame:
        """The stored rows of ``keys`` of ``phase``, concatenated in order."""
        frames = [self.store.job_rows(phase, k) for k in keys]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def write_table(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        self.store.write_table(name, frame)
        return frame


@dataclass(frozen=True)
class StudyOutcome:
    """What a run did: its tables, the jobs run now per phase, and its wall time."""

    study: str
    run_dir: Path
    tables: dict[str, pd.DataFrame]
    jobs_run: dict[str, int]
    seconds: float
    prepared: Prepared

    def __getattr__(self, name: str) -> pd.DataFrame:  # outcome.models, outcome.alignments ...
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def run_study(
    spec: StudySpec,
    run_dir: str | Path,
    executor: ExecutorConfig | None = None,
    on_prepared: Callable[[Prepared], None] | None = None,
    **options: Any,
) -> StudyOutcome:
    """Run (or resume) ``spec``'s study in ``run_dir``, skipping every stored job.

    ``options`` go to the study's ``prepare`` (for example in-memory data). ``on_prepared`` is
    called with what ``prepare`` found (its notices say which data sources were used) before
    any work starts.

    Raises
    ------
    ValueError, FileNotFoundError
        Bad spec or inputs, found before the run directory is touched.
    FileExistsError
        ``run_dir`` holds another run.
    JobsFailed
        Some jobs raised; everything else is stored and a re-run retries only those.
    """
    study = get_study(spec.study)
    executor = executor or ExecutorConfig()
    store = RunStore(run_dir)
    store.check_target()  # a file, a foreign or unwritable folder: one line before any work
    if isinstance(getattr(spec, "device", None), str):
        resolve_device(spec.device)  # one line for a device this machine lacks, before any work
    if isinstance(getattr(spec, "cache_dir", None), str):
        check_writable(spec.cache_dir, "folder")  # a cache written late in the run
    prepared = study.prepare(spec, **options)
    spec = spec if prepared.spec is None else prepared.spec  # every data source resolved
    if on_prepared is not None:
        on_prepared(prepared)
    top = first_missing(store.root)
    resumed: bool | None = None  # False once this run has claimed a new directory
    try:
        resumed = store.open_for(
            study.name,
            spec.model_dump(mode="json"),
            spec.to_yaml(),
            spec.fingerprint(prepared.data_key),
        )
        extra = {"study": study.name, "executor": executor.kind, "workers": executor.workers}
        with open_executor(executor) as pool:
            for job in store.drop_damaged_jobs():
                pool.log(f"jobs/{job} could not be read (truncated?); it will be computed again")
            record = RunRecord(store.root, extra | prepared.environment)
            record.start()
            _plan_start(store, study, spec)
            ctx = RunContext(store, executor, pool)
            tables = study.run(ctx, spec, prepared)
        seconds = record.finish(ctx.jobs_run)
        plan = read_plan(store.root)
        tables_rows = {name: len(frame) for name, frame in tables.items()}
        atomic_write_text(store.root / PLAN, json.dumps(plan | {"tables": tables_rows}, indent=1))
        write_run_readme(store.root, study.name, tables)
    except BaseException:
        if resumed is False and not store.has_jobs():
            store.discard(top)  # nothing was done: leave nothing, so the same command starts
        raise
    finally:
        store.release()
    return StudyOutcome(study.name, store.root, tables, ctx.jobs_run, seconds, prepared)


def _plan_start(store: RunStore, study, spec: StudySpec) -> None:
    """Record the study's phases and every total the spec tells, so that ``alignlab status``
    answers from the run directory alone (without importing the study)."""
    sources = (spec.known_totals(), study.totals(spec, store))
    known = {k: v for source in sources for k, v in source.items() if isinstance(v, int)}
    plan = read_plan(store.root)
    new = plan | known | {"phases": list(study.phases)}
    if new != plan:
        atomic_write_text(store.root / PLAN, json.dumps(new, indent=1))


def write_run_readme(root: Path, study: str, tables: dict[str, pd.DataFrame]) -> None:
    """``RUN_DIR/README.md``: what each file of the run directory is."""
    listed = "\n".join(
        f"- `tables/{name}.parquet`: {len(frame)} rows" for name, frame in tables.items()
    )
    text = f"""# alignlab run directory ({study} study)

- `run.json`: the claim of this directory: store format, study, spec fingerprint and spec.
- `spec.yaml`: the resolved spec, every field written out (readable copy).
- `environment.json`: versions, machine, and every run's start, end, duration and jobs run.
- `plan.json`: how many jobs each phase has.
- `jobs/<phase>/<key>.parquet`: the rows of one finished job; `<key>` is the hash of everything
  that produced it, and its presence means the job is done (a re-run skips it).
- `jobs/<phase>/<key>.pt`: that job's tensors (best-validation weights), where it has any.
- `tables/<name>.parquet`: every job's rows of a phase, assembled when the run finishes:
{listed}
- `report/`: written by `alignlab report {root}`.

Every column of every table is described in alignlab's `docs/tables.md`. Continue or check
this run with `alignlab status {root}`.
"""
    atomic_write_text(root / "README.md", text)
