"""Hand-made run directories with the results-store contract columns, for the analysis tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SPEC_YAML = "study: synthetic\nuniqueness: [0, 1, 2, 3, 4, 5, 6, 7, 8]\nseeds: [0, 1, 2]\n"
ENVIRONMENT = {"alignlab": "0.1.0", "python": "3.11", "torch": "2.13.0", "cpu_count": 2}


def synthetic_alignments(
    us: Iterable[int] = range(9),
    dphis: Iterable[int] = (1, 3, 5, 7, 9),
    depths: Iterable[int] = (1, 2, 3, 4),
    seeds: Iterable[int] = (0, 1, 2),
    metrics: Iterable[str] = ("unbiased_cka", "mutual_knn"),
    depth1s: Iterable[int] = (1, 2),
    noise: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """An alignments table where alignment falls with U and D_phi and rises with depth only at
    low U, and performance rises with depth everywhere."""
    rng = np.random.default_rng(seed)
    rows = []
    for metric in metrics:
        for d1 in depth1s:
            for u in us:
                for dphi in dphis:
                    for d in depths:
                        for s in seeds:
                            score = 0.9 - 0.06 * u - 0.02 * dphi + 0.03 * d * (1 - u / 8)
                            perf = 0.95 - 0.04 * u - 0.01 * dphi + 0.01 * d
                            rows.append(
                                {"key": f"{metric}-{d1}-{u}-{dphi}-{d}-{s}", "u": u, "dphi": dphi,
                                 "metric": metric, "depth_a": d1, "seed_a": s, "depth_b": d,
                                 "seed_b": s, "score": score + rng.normal(0, noise),
                                 "layer_a": 1, "layer_b": d, "perf_a": 0.9 - 0.03 * u,
                                 "perf_b": perf + rng.normal(0, noise / 2)}
                            )  # fmt: skip
    return pd.DataFrame(rows)


def synthetic_models(alignments: pd.DataFrame) -> pd.DataFrame:
    """A models table consistent with ``alignments`` (modality 2 only, plus modality 1)."""
    m2 = alignments.drop_duplicates(["u", "dphi", "depth_b", "seed_b"])
    rows = [
        {"key": f"m2-{r.u}-{r.dphi}-{r.depth_b}-{r.seed_b}", "study": "synthetic", "u": r.u,
         "r": 8 - r.u, "dphi": r.dphi, "modality": "x2", "depth": r.depth_b, "seed": r.seed_b,
         "lr": 0.01, "wd": 0.0, "val_score": r.perf_b, "test_score": r.perf_b, "best_epoch": 3,
         "epochs": 5, "diverged": False, "selected": True}
        for r in m2.itertuples()
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["dphi"] = frame["dphi"].astype("Int64")
    return frame


def write_run(
    root: Path, alignments: pd.DataFrame | None, models: pd.DataFrame | None = None
) -> Path:
    """Write a run directory: spec.yaml, environment.json and the tables given."""
    (root / "tables").mkdir(parents=True, exist_ok=True)
    (root / "spec.yaml").write_text(SPEC_YAML)
    (root / "environment.json").write_text(json.dumps(ENVIRONMENT))
    if alignments is not None:
        alignments.to_parquet(root / "tables" / "alignments.parquet", index=False)
    if models is not None:
        models.to_parquet(root / "tables" / "models.parquet", index=False)
    return root


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_run(drop=("perf_b",), **table_options)`` writes a run and returns it."""

    def make(name: str = "run", drop: Iterable[str] = (), **options) -> Path:
        alignments = synthetic_alignments(**options)
        models = synthetic_models(alignments)
        return write_run(tmp_path / name, alignments.drop(columns=list(drop)), models)

    return make


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small complete run: U 0..8, D_phi {1,3,5,7,9}, D_enc 1..4, seeds 0..2."""
    alignments = synthetic_alignments()
    return write_run(
        tmp_path_factory.mktemp("small") / "run", alignments, synthetic_models(alignments)
    )


@pytest.fixture(scope="session")
def small_report(small_run: Path) -> Path:
    """The report of :func:`small_run`, written once for all tests that read it."""
    from alignlab.analysis.report import write_report

    return write_report(small_run)


@pytest.fixture
def alignments_table() -> Callable[..., pd.DataFrame]:
    """Factory of hand-made alignments tables (:func:`synthetic_alignments`)."""
    return synthetic_alignments


@pytest.fixture
def run_writer() -> Callable[..., Path]:
    """:func:`write_run`, for tests that write their own tables."""
    return write_run
