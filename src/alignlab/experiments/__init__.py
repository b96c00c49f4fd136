"""The study contract: what every study shares, written once.

Spec base and overrides (:mod:`.spec`), the study registry (:mod:`.registry`), seeds
(:mod:`.seeds`), member rows (:mod:`.members`), hyperparameter selection (:mod:`.selection`),
packing many models into one alignment call (:mod:`.packing`), executors (:mod:`.executors`),
the resumable store (:mod:`.store`), the environment record (:mod:`.environment`), the runner
(:mod:`.runner`) and status (:mod:`.status`). The studies themselves are in
:mod:`alignlab.studies`.
"""

from alignlab.experiments.executors import ExecutorConfig, JobsFailed, run_jobs
from alignlab.experiments.registry import Prepared, Study, get_study, register_study, study_names
from alignlab.experiments.runner import RunContext, StudyOutcome, run_study
from alignlab.experiments.selection import select_hyperparameters
from alignlab.experiments.spec import MetricSpec, StudySpec, resolve_spec, stable_hash
from alignlab.experiments.status import RunStatus, run_status
from alignlab.experiments.store import RunStore

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
