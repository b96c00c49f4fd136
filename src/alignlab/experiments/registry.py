"""The study contract and the one place studies are registered.

A study is an object with a name, a spec type, its phases in order, and three functions:
``prepare`` (load and check its inputs before the run directory is touched), ``run`` (its jobs,
through a :class:`~alignlab.experiments.runner.RunContext`) and ``totals`` (jobs per phase, for
``alignlab status``). The four shipped studies live in ``alignlab.studies.<name>`` and are
registered by :mod:`alignlab.studies`; a new study calls :func:`register_study` once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from alignlab.experiments.spec import StudySpec

if TYPE_CHECKING:
    from alignlab.experiments.runner import RunContext
    from alignlab.experiments.store import RunStore


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` found: the data's fingerprint (hashed into the run's), facts for the
    environment record, lines to print before the run starts, anything ``run`` needs, and the
    spec with every data source resolved (``images: auto`` becomes the source used; None keeps
    the spec given). The resolved spec is the one saved, hashed and run."""

    data_key: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    state: Any = None
    spec: Any = None


@dataclass(frozen=True)
class Study:
    """One study, as the shared machinery sees it.

    Attributes
    ----------
    name : str
        ``alignlab run NAME``; also the ``study`` field of its spec and preset file prefix.
    spec_type : StudySpec subclass
    phases : tuple of str
        Job phases in the order they run (``alignlab status`` lists them so).
    prepare : (spec, **options) -> Prepared
        Load and check inputs; raise ValueError / FileNotFoundError on bad input.
    run : (RunContext, spec, Prepared) -> dict of table name -> DataFrame
        Run the jobs through the context; return the tables written.
    totals : (spec, RunStore) -> dict of phase -> int or None
        Jobs per phase, without running anything (None: known only as the run goes).
    summary : (tables) -> list of str
        Lines printed at the end of ``alignlab run`` (the report's statistic, named).
    """

    name: str
    spec_type: type[StudySpec]
    phases: tuple[str, ...]
    prepare: Callable[..., Prepared]
    run: Callable[[RunContext, StudySpec, Prepared], dict[str, pd.DataFrame]]
    totals: Callable[[StudySpec, RunStore], dict[str, int | None]]
    summary: Callable[[dict[str, pd.DataFrame]], list[str]] = lambda tables: []
    description: str = ""


_STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Make ``study`` known to ``run_study``, ``run_status`` and the CLI; returns it."""
    declared = study.spec_type.model_fields["study"].default
    if declared != study.name:
        raise ValueError(f"study {study.name!r}: its spec declares study={declared!r}")
    _STUDIES[study.name] = study
    return study


def get_study(name: str) -> Study:
    """The registered study called ``name``."""
    _load_shipped()
    if name not in _STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of {', '.join(study_names())}")
    return _STUDIES[name]


def study_names() -> list[str]:
    """Names of every registered study, in registration order."""
    _load_shipped()
    return list(_STUDIES)


def _load_shipped() -> None:
    import alignlab.studies  # noqa: F401  (registers the shipped studies)
