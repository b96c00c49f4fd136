"""How far a run directory has got, for any registered study, without loading models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from alignlab.experiments.environment import last_finished
from alignlab.experiments.registry import get_study
from alignlab.experiments.runner import PLAN
from alignlab.experiments.store import RunStore


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
        Finished jobs per phase, in the order the phases run; ``total`` is None where it is
        known only once the run reaches that phase.
    finished : bool
        The last run of this directory went to the end and its tables can be read.
    problems : tuple of str
        Tables that are missing or cannot be read although the run says it finished.
    """

    study: str
    fingerprint: str
    phases: dict[str, tuple[int, int | None]]
    finished: bool
    problems: tuple[str, ...] = ()


def run_status(run_dir: str | Path) -> RunStatus:
    """What is done and what is left in ``run_dir`` (any study)."""
    store = RunStore(run_dir)
    claim = store.claim()
    if claim is None:
        raise FileNotFoundError(
            f"{store.root} holds no alignlab run (no run.json); start one with "
            "`alignlab run synthetic RUN_DIR`"
        )
    study = get_study(claim["study"])
    spec = study.spec_type.model_validate(claim["spec"])
    totals = study.totals(spec, store)
    plan_path = store.root / PLAN
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else {}
    phases = {}
    for phase in study.phases:
        total = totals.get(phase, plan.get(phase))
        done = len(store.done_keys(phase))
        phases[phase] = (done if total is None else min(done, total), total)
    problems = []
    finished = last_finished(store.root) is not None
    if finished:
        for path in sorted((store.root / "tables").glob("*.parquet")):
            try:
                pq.read_metadata(path)
            except Exception as exc:  # noqa: BLE001 - any unreadable table is reported
                problems.append(f"{path.name}: {exc}")
        if not (store.root / "tables").is_dir():
            problems.append("tables/ is missing")
    return RunStatus(
        study.name, claim["fingerprint"], phases, finished and not problems, tuple(problems)
    )
