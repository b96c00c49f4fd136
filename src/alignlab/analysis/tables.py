"""The results tables of a run directory: column names, the loader and column checks.

A run directory ``RUN_DIR`` holds::

    spec.yaml                    the resolved study spec (shown verbatim in the report)
    environment.json             versions, machine and timing of every run
    tables/models.parquet        one row per trained model (columns ``MODEL_COLUMNS``)
    tables/alignments.parquet    one row per aligned encoder pair and metric (``ALIGNMENT_COLUMNS``)

This module is the only place that names the columns; the analysis reads nothing else. A missing
column is not fatal at load time: each figure checks the columns it needs with
:func:`require_columns`, so one missing column skips only the figures that need it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# -- models.parquet: one row per trained model ----------------------------------------------
KEY = "key"
STUDY = "study"
U = "u"  # uniqueness level, 0..8
R = "r"  # redundancy, 8 - u
DPHI = "dphi"  # depth of the heterogeneity transform; <NA> for modality 1
MODALITY = "modality"
DEPTH = "depth"
SEED = "seed"
LR = "lr"
WD = "wd"
VAL_SCORE = "val_score"
TEST_SCORE = "test_score"
BEST_EPOCH = "best_epoch"
EPOCHS = "epochs"
DIVERGED = "diverged"
SELECTED = "selected"
MODEL_COLUMNS = (KEY, STUDY, U, R, DPHI, MODALITY, DEPTH, SEED, LR, WD, VAL_SCORE, TEST_SCORE)
MODEL_COLUMNS += (BEST_EPOCH, EPOCHS, DIVERGED, SELECTED)

# -- alignments.parquet: one row per aligned encoder pair and metric --------------------------
METRIC = "metric"
DEPTH1 = "depth_a"  # modality-1 (reference) encoder depth
SEED1 = "seed_a"
DEPTH2 = "depth_b"  # modality-2 encoder depth, D_enc
SEED2 = "seed_b"
SCORE = "score"  # alignment: max over layer pairs
LAYER1 = "layer_a"  # 0-based
LAYER2 = "layer_b"
PERF1 = "perf_a"  # test accuracy of the modality-1 model
PERF2 = "perf_b"  # test accuracy of the modality-2 model: "performance" in the figures
MATRIX = "matrix"  # layer x layer scores; optional
ALIGNMENT_COLUMNS = (KEY, U, DPHI, METRIC, DEPTH1, SEED1, DEPTH2, SEED2, SCORE, LAYER1, LAYER2)
ALIGNMENT_COLUMNS += (PERF1, PERF2)

MODELS_FILE = "tables/models.parquet"
ALIGNMENTS_FILE = "tables/alignments.parquet"
DEFAULT_METRIC = "unbiased_cka"


class MissingColumnsError(ValueError):
    """A table lacks columns that an analysis needs; the message names them."""


class InsufficientDataError(ValueError):
    """A table has the columns but too little data for an analysis; the message says what."""


@dataclass(frozen=True)
class RunTables:
    """Everything the analysis reads from one run directory.

    Attributes
    ----------
    run_dir : Path
    spec_text : str or None
        ``spec.yaml`` verbatim; None when the file is missing.
    environment : dict
        ``environment.json``; empty when the file is missing.
    models : DataFrame or None
        ``tables/models.parquet``, one row per trained model; None when missing.
    alignments : DataFrame
        ``tables/alignments.parquet``, one row per encoder pair and metric.
    notes : list of str
        What the loader noticed: missing files or columns, a table assembled from job files.
    """

    run_dir: Path
    spec_text: str | None
    environment: dict[str, Any]
    models: pd.DataFrame | None
    alignments: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def load_run(run_dir: str | Path) -> RunTables:
    """Read and check the results tables of ``run_dir``.

    The alignments table is required. When ``tables/alignments.parquet`` is missing but the
    run has finished alignment jobs (``jobs/align/*.parquet``, a run still going or one that
    stopped early), their rows are read instead and a note says so. Missing contract columns
    are recorded in ``notes``; the figures that need them are skipped later.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` does not exist, or it holds no alignment results at all.
    """
    root = Path(run_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"run directory {root} does not exist")
    notes: list[str] = []
    spec_path = root / "spec.yaml"
    spec_text = spec_path.read_text() if spec_path.is_file() else None
    if spec_text is None:
        notes.append(f"{spec_path.name} is missing: the spec cannot be shown")
    environment = _read_environment(root / "environment.json", notes)

    alignments = _read_table(root, ALIGNMENTS_FILE, "align", notes)
    if alignments is None:
        raise FileNotFoundError(
            f"no results in {root}: {ALIGNMENTS_FILE} is missing and no finished alignment "
            f"jobs were found under jobs/align/; run the study first (alignlab run ...)"
        )
    if alignments.empty:
        raise FileNotFoundError(f"no results in {root}: {ALIGNMENTS_FILE} has no rows")
    models = _read_table(root, MODELS_FILE, "train", notes)
    if models is None:
        notes.append(f"{MODELS_FILE} is missing: the training summary is left out")

    for name, frame, columns in (
        (ALIGNMENTS_FILE, alignments, ALIGNMENT_COLUMNS),
        (MODELS_FILE, models, MODEL_COLUMNS),
    ):
        if frame is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                notes.append(f"{name} lacks column(s) {', '.join(missing)}")
    return RunTables(root, spec_text, environment, models, alignments, notes)


def require_columns(
    frame: pd.DataFrame,
    columns: tuple[str, ...] | list[str],
    what: str,
    table: str = ALIGNMENTS_FILE,
) -> None:
    """Raise :class:`MissingColumnsError` naming the ``columns`` that ``frame`` (``table``) lacks.

    >>> require_columns(pd.DataFrame({"u": [0]}), ["u", "score"], "a figure")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alignlab.analysis.tables.MissingColumnsError: a figure needs column(s) score, missing ...
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(
            f"{what} needs column(s) {', '.join(missing)}, missing from {table}; present: "
            f"{', '.join(map(str, frame.columns)) or 'none'}"
        )


def _read_environment(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        notes.append(f"{path.name} is missing: the environment cannot be shown")
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        notes.append(f"{path.name} is not valid JSON ({exc.msg}, line {exc.lineno})")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{path.name} does not hold a mapping")
        return {}
    return data


def _read_table(root: Path, name: str, phase: str, notes: list[str]) -> pd.DataFrame | None:
    path = root / name
    if path.is_file():
        return pd.read_parquet(path)
    jobs = sorted((root / "jobs" / phase).glob("*.parquet"))
    if not jobs:
        return None
    notes.append(f"{name} is missing: read {len(jobs)} finished job file(s) from jobs/{phase}/")
    return pd.concat([pd.read_parquet(p) for p in jobs], ignore_index=True)
