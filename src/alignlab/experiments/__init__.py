"""The study contract: what every study shares, written once.

Spec base and overrides (:mod:`.spec`), the study registry (:mod:`.registry`), seeds
(:mod:`.seeds`), member rows (:mod:`.members`), hyperparameter selection (:mod:`.selection`),
packing many models into one alignment call (:mod:`.packing`), executors (:mod:`.executors`),
the resumable store (:mod:`.store`), the environment record (:mod:`.environment`), the runner
(:mod:`.runner`) and status (:mod:`.status`). The studies themselves are in
:mod:`alignlab.studies`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# names -> the module that defines them, imported on first use, so that a command that needs
# one light module (``alignlab status`` reads only the run directory) does not import torch
_WHERE = {
    "ExecutorConfig": "executors",
    "JobsFailed": "executors",
    "run_jobs": "executors",
    "Prepared": "registry",
    "Study": "registry",
    "get_study": "registry",
    "register_study": "registry",
    "study_names": "registry",
    "RunContext": "runner",
    "StudyOutcome": "runner",
    "run_study": "runner",
    "select_hyperparameters": "selection",
    "MetricSpec": "spec",
    "StudySpec": "spec",
    "resolve_spec": "spec",
    "stable_hash": "spec",
    "RunStatus": "status",
    "run_status": "status",
    "RunStore": "store",
}

if TYPE_CHECKING:
    from alignlab.experiments.executors import ExecutorConfig, JobsFailed, run_jobs
    from alignlab.experiments.registry import (
        Prepared,
        Study,
        get_study,
        register_study,
        study_names,
    )
    from alignlab.experiments.runner import RunContext, StudyOutcome, run_study
    from alignlab.experiments.selection import select_hyperparameters
    from alignlab.experiments.spec import MetricSpec, StudySpec, resolve_spec, stable_hash
    from alignlab.experiments.status import RunStatus, run_status
    from alignlab.experiments.store import RunStore


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'alignlab.experiments' has no attribute {name!r}")
    value = getattr(import_module(f"alignlab.experiments.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ExecutorConfig",
    "JobsFailed",
    "MetricSpec",
    "Prepared",
    "RunContext",
    "RunStatus",
    "RunStore",
    "Study",
    "StudyOutcome",
    "StudySpec",
    "get_study",
    "register_study",
    "resolve_spec",
    "run_jobs",
    "run_status",
    "run_study",
    "select_hyperparameters",
    "stable_hash",
    "study_names",
]
