"""What the diagnostic returns: per-direction correlations, verdicts and scores, as JSON too.

Built from the models table alone (one row per trained member, with the alignment of every
selected model to the other modality's reference model), so it can be recomputed from a saved
table. Correlations come from :func:`alignlab.stats.correlation`, verdicts from
:mod:`alignlab.studies.diagnostic.verdict`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignlab.stats import Correlation, correlation
from alignlab.studies.diagnostic.verdict import Verdict, overall_verdict, verdict

NOISE_RATIO = 1.0  # models' score spread (std) below this many test-set standard errors: noise


@dataclass(frozen=True)
class MetricResult:
    """One metric's evidence in one direction.

    ``spearman`` and ``pearson``: corr(alignment, test score) over the direction's models;
    ``depth_alignment``: Spearman corr(depth, alignment); ``max_alignment``: the largest
    (null-calibrated) alignment reached; ``verdict``: this metric's verdict.
    """

    metric: str
    spearman: Correlation
    pearson: Correlation
    depth_alignment: Correlation
    max_alignment: float | None
    verdict: Verdict


@dataclass(frozen=True)
class DirectionResult:
    """Direction ``modality -> reference``: the modality's models aligned to the other's best.

    Attributes
    ----------
    name : e.g. "x1 -> x2"
    modality, reference_modality : str
    reference : dict
        The reference model: depth, seed, lr, wd, val_score, test_score.
    n_models : int
        Selected models of ``modality`` (depths x seeds), diverged ones included as NaN.
    metrics : tuple of MetricResult, in the settings' order
    depth_performance : Correlation
        Spearman corr(depth, test score).
    test_scores : dict
        ``best`` (the model with the best validation score), ``max``, ``mean``, and
        ``by_depth`` (mean over seeds) test scores: accuracy, or sign accuracy.
    verdict : Verdict
        The first metric's verdict, the headline.
    caveats : tuple of str
    """

    name: str
    modality: str
    reference_modality: str
    reference: dict
    n_models: int
    metrics: tuple[MetricResult, ...]
    depth_performance: Correlation
    test_scores: dict
    verdict: Verdict
    caveats: tuple[str, ...]


@dataclass(frozen=True)
class DiagnosticResult:
    """Everything the diagnostic found. ``to_json()`` is deterministic (no timings in it)."""

    settings: Any  # DiagnosticSettings
    task: str
    classes: tuple | None
    modalities: tuple[str, str]
    data: dict  # n_samples, split_sizes, n_align, shapes, widths
    directions: tuple[DirectionResult, DirectionResult]
    overall: Verdict
    models: pd.DataFrame
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: settings, data, overall verdict, directions and models."""
        return _clean(
            {
                "settings": self.settings.model_dump(mode="json"),
                "task": self.task,
                "classes": None if self.classes is None else list(self.classes),
                "modalities": list(self.modalities),
                "data": self.data,
                "overall": self.overall.as_dict(),
                "directions": [_direction_dict(d) for d in self.directions],
                "models": self.models.to_dict(orient="records"),
            }
        )

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"


def _corr_dict(c: Correlation) -> dict[str, Any]:
    return c.as_dict()


def _direction_dict(d: DirectionResult) -> dict[str, Any]:
    return {
        "name": d.name,
        "modality": d.modality,
        "reference_modality": d.reference_modality,
        "reference": d.reference,
        "n_models": d.n_models,
        "verdict": d.verdict.as_dict(),
        "caveats": list(d.caveats),
        "depth_performance": _corr_dict(d.depth_performance),
        "test_scores": d.test_scores,
        "metrics": [
            {
                "metric": m.metric,
                "spearman": _corr_dict(m.spearman),
                "pearson": _corr_dict(m.pearson),
                "depth_alignment": _corr_dict(m.depth_alignment),
                "max_alignment": m.max_alignment,
                "verdict": m.verdict.as_dict(),
            }
            for m in d.metrics
        ],
    }


def _clean(value: Any) -> Any:
    """NumPy scalars to Python, NaN and infinities to None, tuples to lists, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _direction(
    a: int, models: pd.DataFrame, s, names: tuple[str, str], n_test: int
) -> DirectionResult:
    corr = dict(n_boot=s.n_boot, ci=s.ci, seed=s.seed)
    ours = models[(models.modality == a) & models.selected]
    ref = models[(models.modality == 3 - a) & models.reference].iloc[0]
    perf, depth = ours.test_score.to_numpy(float), ours.depth.to_numpy(float)
    perf = np.where(ours.diverged, np.nan, perf)
    results = []
    for metric in s.metrics:
        align = ours[f"align_{metric}"].to_numpy(float)
        rho = correlation(align, perf, "spearman", **corr)
        finite = align[np.isfinite(align)]
        results.append(
            MetricResult(
                metric,
                rho,
                correlation(align, perf, "pearson", **corr),
                correlation(depth, align, "spearman", **corr),
                float(finite.max()) if finite.size else None,
                verdict(rho, s.min_rho),
            )
        )
    valid = ours[~ours.diverged]
    best = valid.loc[valid.val_score.idxmax()] if len(valid) else None
    scores = {
        "best": None if best is None else float(best.test_score),
        "max": float(valid.test_score.max()) if len(valid) else None,
        "mean": float(valid.test_score.mean()) if len(valid) else None,
        "by_depth": {int(k): float(v) for k, v in valid.groupby("depth").test_score.mean().items()},
    }
    caveats = []
    n_div = int(ours.diverged.sum())
    if n_div:
        caveats.append(f"{n_div} of {len(ours)} models diverged and are left out")
    finite = perf[np.isfinite(perf)]
    if finite.size > 1:
        p = float(np.clip(finite.mean(), 0, 1))
        noise = np.sqrt(p * (1 - p) / n_test)  # standard error of one model's test score
        if finite.std(ddof=1) < NOISE_RATIO * noise:
            caveats.append(
                f"the models' test scores spread less (std {finite.std(ddof=1):.3f}) than the "
                f"test-set standard error of one score ({noise:.3f}): their ranking, and so the "
                "correlation, may be mostly noise; more samples or a more varied ladder (more "
                "depths, fewer epochs) would tell more"
            )
    head = results[0]
    for m in results[1:]:
        if m.verdict.label != head.verdict.label:
            caveats.append(
                f"{m.metric} gives '{m.verdict.label}' ({m.verdict.evidence}), unlike {head.metric}"
            )
    return DirectionResult(
        name=f"{names[a - 1]} -> {names[2 - a]}",
        modality=names[a - 1],
        reference_modality=names[2 - a],
        reference={
            k: _clean(ref[k]) for k in ("depth", "seed", "lr", "wd", "val_score", "test_score")
        },
        n_models=len(ours),
        metrics=tuple(results),
        depth_performance=correlation(depth, perf, "spearman", **corr),
        test_scores=scores,
        verdict=head.verdict,
        caveats=tuple(caveats),
    )


def summarize(
    models: pd.DataFrame,
    settings,
    task: str,
    classes: tuple | None,
    names: tuple[str, str],
    data: dict,
    seconds: float,
) -> DiagnosticResult:
    """The :class:`DiagnosticResult` of a models table (see :func:`diagnose`)."""
    n_test = data["split_sizes"]["test"]
    directions = tuple(_direction(a, models, settings, names, n_test) for a in (1, 2))
    overall = overall_verdict([d.verdict for d in directions], [d.name for d in directions])
    return DiagnosticResult(
        settings=settings,
        task=task,
        classes=classes,
        modalities=tuple(names),
        data=data,
        directions=directions,
        overall=overall,
        models=models,
        seconds=seconds,
    )


__all__ = ["DiagnosticResult", "DirectionResult", "MetricResult", "summarize"]
