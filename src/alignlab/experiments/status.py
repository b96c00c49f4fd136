"""How far a run directory has got, for any registered study, without loading models.

:func:`run_status` reads only small files (the claim, ``plan.json``, ``environment.json``), lists
the job files, and reads the footer of each final table, so it answers in well under a second
even while a run is working in the directory. A run records its phases and their totals in
``plan.json`` when it starts, so the study's code (and torch) is not even imported; only for a
run directory without that record is the study asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignlab.experiments.environment import last_finished
from alignlab.experiments.store import RunStore, read_plan


@dataclass(frozen=True)
class RunStatus:
    """How far a run directory has got.

    Attributes
    ----------
    study : str
        The study the run directory holds ("synthetic", "vl", "multibench", ...).
    fingerprint : str
        Hash of the spec the run was started with.
    phases : dict of phase name -> (done, total)
        Finished jobs per phase, in the order the study runs them; ``total`` is None only where
        neither the spec nor the run so far tells it.
    finished : bool
        The last run of this directory went to the end and every table it wrote can be read
        and has the rows it had.
    problems : tuple of str
        Tables that are missing, cannot be read or lost rows although the run finished.
    running : bool
        Another process is running in the directory now.
    next_step : str
        What to do next: the command that continues the run, or the one that reports it.
    """

    study: str
    fingerprint: str
    phases: dict[str, tuple[int, int | None]]
    finished: bool
    problems: tuple[str, ...] = ()
    running: bool = False
    next_step: str = ""


def run_status(run_dir: str | Path) -> RunStatus:
    """What is done and what is left in ``run_dir`` (any study).

    Raises FileNotFoundError for a directory without a run, ValueError for a damaged claim.
    """
    store = RunStore(run_dir)
    claim = store.claim()
    if claim is None:
        raise FileNotFoundError(
            f"{store.root} holds no alignlab run (no run.json); start one with "
            "`alignlab run synthetic RUN_DIR`"
        )
    plan = read_plan(store.root)
    order = plan.get("phases")
    if isinstance(order, list) and all(isinstance(p, str) for p in order):
        name, totals = str(claim["study"]), plan
    else:  # a run that did not record its phases: ask the study
        from alignlab.experiments.registry import get_study

        study = get_study(claim["study"])
        spec = study.spec_type.model_validate(claim["spec"])
        sources = (plan, spec.known_totals(), study.totals(spec, store))  # later ones win
        totals = {k: v for source in sources for k, v in source.items() if isinstance(v, int)}
        name, order = study.name, list(study.phases)
    phases = {}
    for phase in order:
        total = totals.get(phase)
        total = total if isinstance(total, int) else None
        done = len(store.done_keys(phase))
        phases[phase] = (done if total is None else min(done, total), total)
    running = store.in_use()
    finished = last_finished(store.root) is not None and not running
    problems = _table_problems(store.root, plan.get("tables")) if finished else []
    finished = finished and not problems
    root = store.root
    if finished:
        step = f"see the results with `alignlab report {root}`"
    elif running:
        step = f"a run is working in {root} now; ask again with `alignlab status {root}`"
    else:
        step = (
            f"continue with `alignlab run {name} {root} --config {root / 'spec.yaml'}` "
            "(or the command that started it): stored jobs are skipped"
        )
    return RunStatus(
        name, claim["fingerprint"], phases, finished, tuple(problems), running, step
    )


def _table_problems(root: Path, expected: dict | None) -> list[str]:
    """Each final table that is missing, unreadable or has other rows than the run wrote."""
    import pyarrow.parquet as pq

    folder = root / "tables"
    if not isinstance(expected, dict):  # a run of an alignlab that did not record its tables
        expected = {p.stem: None for p in sorted(folder.glob("*.parquet"))}
        if not expected:
            return ["tables/ holds no table"]
    problems = []
    for name, rows in expected.items():
        path = folder / f"{name}.parquet"
        if not path.is_file():
            problems.append(f"tables/{name}.parquet is missing")
            continue
        try:
            found = pq.read_metadata(path).num_rows
        except Exception as exc:  # noqa: BLE001 - any unreadable table is reported
            problems.append(f"tables/{name}.parquet cannot be read ({type(exc).__name__})")
            continue
        if rows is not None and found != rows:
            problems.append(f"tables/{name}.parquet has {found} rows, the run wrote {rows}")
    return problems
