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
from scipy.stats import friedmanchisquare

from alignlab.stats import Correlation, bonett_wright_interval, correlation
from alignlab.studies.diagnostic.verdict import (
    Verdict,
    corrected_level,
    overall_verdict,
    verdict,
)

NOISE_LEVEL = 0.05  # level of the Friedman test that the models' scores differ
JOINT = 0  # the models table's modality of the models trained on both modalities together


@dataclass(frozen=True)
class MetricResult:
    """One metric's evidence in one direction.

    ``spearman`` and ``pearson``: corr(calibrated alignment, test score) over the direction's
    models, with intervals corrected for every (direction, metric) tested (Spearman's: the
    percentile bootstrap widened to cover the Bonett-Wright interval); ``depth_alignment``:
    Spearman corr(depth, alignment); ``max_alignment``: the largest calibrated alignment
    (raw maximum over layer pairs minus the mean of its permutation null) and ``max_raw`` the
    largest raw one; ``median_p``: the median over models of their add-one p-values;
    ``above_null``: ``median_p`` at or below the corrected level; ``verdict``: this metric's
    gated verdict.
    """

    metric: str
    spearman: Correlation
    pearson: Correlation
    depth_alignment: Correlation
    max_alignment: float | None
    verdict: Verdict
    max_raw: float | None = None
    median_p: float | None = None
    above_null: bool = False


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
        The direction's verdict: the first metric's; other metrics that differ are caveats.
    caveats : tuple of str
    performance_noise : dict
        Whether the models' scores differ beyond test-set noise (``friedman_p``,
        ``distinct``), ``samples_needed``, ``spread`` and ``standard_error``: see
        :func:`performance_noise`.
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
    performance_noise: dict | None = None


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
    unique: dict | None = None  # unique_share(): the joint model against the single ones

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
                "unique": self.unique,
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
        "performance_noise": d.performance_noise,
        "metrics": [
            {
                "metric": m.metric,
                "spearman": _corr_dict(m.spearman),
                "pearson": _corr_dict(m.pearson),
                "depth_alignment": _corr_dict(m.depth_alignment),
                "max_alignment": m.max_alignment,
                "max_raw": m.max_raw,
                "median_p": m.median_p,
                "above_null": m.above_null,
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


def performance_noise(
    parts: np.ndarray, perf: np.ndarray, n_test: int, test_fraction: float
) -> dict:
    """Do the models' test scores differ beyond test-set noise?

    Every model is also scored on the same random parts of the test set (``parts``: (models,
    parts), NaN rows for diverged models). If the models only differed by which test samples
    they happen to get right, their ranks within a part would be exchangeable: Friedman's test
    (models as treatments, parts as blocks; ``friedman_p``) tells whether they are not, at the
    level :data:`NOISE_LEVEL`. It uses the pairing (every model sees the same samples), so it
    finds real differences far smaller than the standard error of one score.

    Also returned: ``spread`` (std of ``perf``, the full-test scores), ``standard_error`` (of
    one score, ``sqrt(p (1 - p) / n_test)`` at the mean score ``p``) and, where the models do
    not differ, ``samples_needed``: about how many samples in all (test share
    ``test_fraction``) would bring one score's standard error down to today's spread.

    >>> rng = np.random.default_rng(0)
    >>> skill = np.linspace(0.6, 0.9, 8)[:, None]
    >>> d = performance_noise(skill + rng.normal(0, 0.02, (8, 16)), skill[:, 0], 800, 0.15)
    >>> d["distinct"], d["friedman_p"] < 1e-6
    (True, True)
    >>> d = performance_noise(0.7 + rng.normal(0, 0.02, (8, 16)), np.full(8, 0.7), 800, 0.15)
    >>> d["distinct"]
    False
    """
    out: dict[str, Any] = dict.fromkeys(
        ("spread", "standard_error", "friedman_p", "samples_needed")
    )
    out["distinct"] = True
    finite = perf[np.isfinite(perf)]
    p = float(np.clip(finite.mean(), 0, 1)) if finite.size else 0.0
    if finite.size > 1:
        out["spread"] = float(finite.std(ddof=1))
        out["standard_error"] = math.sqrt(p * (1 - p) / n_test)
    rows = parts[np.isfinite(parts).all(axis=1)] if parts.ndim == 2 else parts[:0]
    if len(rows) < 3 or rows.shape[1] < 2:
        return out  # too few models or parts: the correlation says so, or there is no test
    if np.ptp(rows) == 0:
        p_value = 1.0
    else:
        p_value = float(friedmanchisquare(*rows).pvalue)
    out.update(friedman_p=p_value, distinct=bool(p_value <= NOISE_LEVEL))
    if not out["distinct"] and out["spread"]:
        out["samples_needed"] = math.ceil(p * (1 - p) / out["spread"] ** 2 / test_fraction)
    return out


def unique_share(models: pd.DataFrame, chance: float | None, names: tuple[str, str]) -> dict:
    """How much of the task needs information that only one modality carries.

    The best-validation selected model of each modality, and of the models trained on both
    modalities together (``modality`` :data:`JOINT`), are compared on the test split:
    ``share = (joint - best single) / (joint - chance)``, the part of the joint model's gain
    over chance that no single modality reaches. 0 when one modality alone does as well as
    both (redundant modalities), near 1 when neither alone beats chance. ``share`` is None
    without joint models, without a chance score, or when the joint model is not above chance.

    >>> m = pd.DataFrame({"modality": [0, 1, 2], "selected": True, "diverged": False,
    ...                   "val_score": 0.8, "test_score": [0.85, 0.55, 0.60]})
    >>> d = unique_share(m, 0.25, ("x1", "x2"))
    >>> round(d["share"], 3), d["best_single"]
    (0.417, 'x2')
    """
    def best(m: int) -> float | None:
        rows = models[(models.modality == m) & models.selected & ~models.diverged.astype(bool)]
        return None if rows.empty else float(rows.loc[rows.val_score.idxmax(), "test_score"])

    single = {names[m - 1]: best(m) for m in (1, 2)}
    joint = best(JOINT) if "modality" in models and (models.modality == JOINT).any() else None
    known = {k: v for k, v in single.items() if v is not None}
    top = max(known, key=known.get) if known else None
    share = None
    if joint is not None and chance is not None and top is not None and joint > chance:
        share = (joint - known[top]) / (joint - chance)
    return {"joint": joint, "single": single, "best_single": top, "chance": chance,
            "share": share}  # fmt: skip


def _unique_gate(unique: dict, limit: float) -> str | None:
    """The evidence of the unique-information gate, or None where it does not apply."""
    share = unique["share"]
    if share is None or share <= limit:
        return None
    top = unique["best_single"]
    return (
        f"a model of both modalities scores {unique['joint']:.3f} against "
        f"{unique['single'][top]:.3f} for the best single modality ({top}) and "
        f"{unique['chance']:.3f} for chance: {share:.0%} of its gain over chance is out of "
        f"either single modality's reach (limit {limit:.0%})"
    )


def _noise_gate(noise: dict, n_models: int) -> tuple[str, str | None]:
    if noise["distinct"]:
        return "", None
    evidence = (
        f"the {n_models} models' scores on the same parts of the test set are not told apart "
        f"(Friedman test p = {noise['friedman_p']:.2f})"
    )
    if noise["spread"] is not None:
        evidence += (
            f"; their test scores spread {noise['spread']:.3f} (std) against a standard error of "
            f"{noise['standard_error']:.3f} for one score"
        )
    need = noise["samples_needed"]
    advice = (
        f"about {need:,} samples (with today's ladder) or a ladder whose models differ more "
        "(more depths, fewer epochs) would settle it"
        if need
        else "a ladder whose models differ more (more depths, fewer epochs) or many more test "
        "samples would settle it"
    )
    return evidence, advice


def _direction(
    a: int, models: pd.DataFrame, s, names: tuple[str, str], n_test: int, unique: dict
) -> DirectionResult:
    ci, alpha = corrected_level(s.ci, 2 * len(s.metrics))
    corr = dict(n_boot=s.n_boot, ci=ci, seed=s.seed)
    ours = models[(models.modality == a) & models.selected]
    ref = models[(models.modality == 3 - a) & models.reference].iloc[0]
    perf, depth = ours.test_score.to_numpy(float), ours.depth.to_numpy(float)
    perf = np.where(ours.diverged, np.nan, perf)
    parts = np.full((len(ours), 0), np.nan)
    if "test_parts" in ours and len(ours):
        parts = np.array([np.asarray(v, float) for v in ours.test_parts])
        parts[ours.diverged.to_numpy(bool)] = np.nan
    noise = performance_noise(parts, perf, n_test, s.test_fraction)
    noise_evidence, noise_advice = _noise_gate(noise, int(np.isfinite(perf).sum()))
    unique_evidence = _unique_gate(unique, s.max_unique_share)
    results = []
    for metric in s.metrics:
        align = ours[f"align_{metric}"].to_numpy(float)
        raw = ours[f"raw_{metric}"].to_numpy(float) if f"raw_{metric}" in ours else align
        pvals = ours[f"p_{metric}"].to_numpy(float) if f"p_{metric}" in ours else align * np.nan
        # the bootstrap interval, widened where the Bonett-Wright interval is wider: with a few
        # dozen models a percentile bootstrap of a rank correlation under-covers
        rho = bonett_wright_interval(correlation(align, perf, "spearman", **corr), ci)
        finite = align[np.isfinite(align)]
        finite_p = pvals[np.isfinite(pvals)]
        median_p = float(np.median(finite_p)) if finite_p.size else None
        above = median_p is not None and median_p <= alpha
        gate = noise_evidence
        if noise["distinct"] and not above:
            gate = (
                "median p-value over the models "
                + ("undefined" if median_p is None else f"{median_p:.3f}")
                + f" against the corrected level {alpha:.4g}"
            )
        elif noise["distinct"] and unique_evidence:
            gate = unique_evidence
        results.append(
            MetricResult(
                metric,
                rho,
                correlation(align, perf, "pearson", **corr),
                correlation(depth, align, "spearman", **corr),
                float(finite.max()) if finite.size else None,
                verdict(
                    rho,
                    s.min_rho,
                    distinct=noise["distinct"],
                    above_null=above,
                    unique=unique_evidence is not None,
                    gate_evidence=gate,
                    advice=noise_advice if not noise["distinct"] else None,
                ),
                max_raw=float(np.nanmax(raw)) if np.isfinite(raw).any() else None,
                median_p=median_p,
                above_null=above,
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
    caveats.append(
        f"intervals have {ci:.2%} coverage and the null level is {alpha:.4g}: {s.ci:.0%} "
        f"corrected for {2 * len(s.metrics)} tests (2 directions x {len(s.metrics)} metrics)"
    )
    # the first metric's verdict is the direction's: letting any metric's "tracks" stand for it
    # recommended alignment at U = 6 on the verdict benchmark (mutual kNN alone)
    head = results[0].verdict
    for m in results:
        if m.verdict.label != head.label:
            caveats.append(f"{m.metric} gives '{m.verdict.label}' ({m.verdict.evidence})")
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
        verdict=head,
        caveats=tuple(caveats),
        performance_noise=noise,
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
    unique = unique_share(models, data.get("chance_score"), names)
    directions = tuple(_direction(a, models, settings, names, n_test, unique) for a in (1, 2))
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
        unique=unique,
    )


__all__ = ["DiagnosticResult", "DirectionResult", "MetricResult", "summarize", "unique_share"]
