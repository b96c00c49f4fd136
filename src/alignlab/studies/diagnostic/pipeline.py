"""The practitioner's diagnostic: on my paired data, does alignment track performance?

For each modality a ladder of encoders is trained (depths 1..D, several seeds, a small
(lr, wd) grid, every member of one depth at once as a population); one (lr, wd) per modality
is kept by mean validation score over depths and seeds (docs/protocol.md). Then, per direction
``a -> b``: modality b's best selected model (highest validation score) is the reference, every
selected modality-a model (depth x seed) is aligned to it (each metric, max over layer pairs,
permutation-null calibrated, on ``n_align`` test samples), and the alignments are correlated
with the modality-a models' test scores, as in the paper's Table 1. The same ladder trained on
both modalities side by side (never aligned) measures how much of the task needs information
only one modality carries (``result.unique_share``). The verdict rules are in
:mod:`alignlab.studies.diagnostic.verdict`; the summary is
:mod:`alignlab.studies.diagnostic.result`.

Layering: this module also uses ``alignlab.stats`` and ``alignlab.studies.diagnostic.verdict``
(pure functions of numbers) through the result module, so that :func:`diagnose` returns a
finished answer.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alignlab.data.splits import standardize, stratified_split
from alignlab.experiments.packing import align_packed_multi
from alignlab.experiments.seeds import derive_seeds
from alignlab.experiments.selection import select_hyperparameters
from alignlab.studies.diagnostic.inputs import CleanInputs, check_inputs
from alignlab.studies.diagnostic.ladder import ladder_for, mlp_width
from alignlab.studies.diagnostic.result import JOINT, DiagnosticResult, summarize
from alignlab.studies.diagnostic.verdict import corrected_level

Budget = Literal["fast", "default", "thorough"]
BUDGETS: dict[str, dict[str, Any]] = {
    # Budgets buy precision (more models, more alignment samples and nulls), not longer
    # training: on the synthetic data, training longer made the ladder's scores converge and
    # the alignment-performance correlation noisier (docs/diagnostic.md).
    "fast": dict(max_depth=6, seeds=4, lrs=(1e-2,), wds=(0.0,), epochs=20, n_align=512,
                 null_permutations=99, n_boot=1000),
    "default": dict(max_depth=6, seeds=6, lrs=(1e-3, 1e-2), wds=(0.0, 1e-2), epochs=20,
                    n_align=1024, null_permutations=199, n_boot=2000),
    "thorough": dict(max_depth=8, seeds=8, lrs=(1e-3, 3e-3, 1e-2), wds=(0.0, 1e-3, 1e-2),
                     epochs=30, n_align=2048, null_permutations=499, n_boot=4000),
}  # fmt: skip
_D = BUDGETS["default"]
MAX_PREPARED = 1 << 26  # prepared (n, n) values per align_layers call: 256 MB of float32
# per metric m, on every selected model: align_m = raw_m - null_m (the calibrated score, which
# the verdict correlates), raw_m (max over layer pairs), null_m (mean of the null of that
# maximum) and p_m (add-one permutation p-value)
ALIGNMENT_COLUMNS = ("align", "raw", "null", "p")
TEST_PARTS = 16  # random parts of the test split each member is also scored on


class DiagnosticSettings(BaseModel):
    """What the diagnostic trains and measures. Fields not given come from ``budget``.

    >>> s = DiagnosticSettings(budget="fast", seed=3)
    >>> s.max_depth, s.lrs, s.epochs, s.seed, s.metrics
    (6, (0.01,), 20, 3, ('unbiased_cka', 'mutual_knn'))
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget: Budget = Field("default", description="preset for the fields below that are not set")
    max_depth: int = Field(_D["max_depth"], ge=1, le=32, description="ladder depths 1..max_depth")
    seeds: int = Field(_D["seeds"], ge=1, description="initialisation seeds per depth and setting")
    lrs: tuple[float, ...] = Field(_D["lrs"], min_length=1, description="AdamW learning rates")
    wds: tuple[float, ...] = Field(_D["wds"], min_length=1, description="AdamW weight decays")
    sequence_lrs: tuple[float, ...] = Field(
        (1e-3,),
        min_length=1,
        description="learning rates for (n, T, F) inputs: transformers "
        "train at the protocol's 1e-3 and below, where the MLPs' 1e-2 is too high",
    )
    epochs: int = Field(_D["epochs"], ge=1, description="passes over train; best val epoch kept")
    batch_size: int = Field(256, ge=1, description="mini-batch size")
    width: int | None = Field(
        None, ge=1, description="encoder width; None: the input size clipped to [32, 256]"
    )
    val_fraction: float = Field(0.15, gt=0, lt=0.5, description="validation share (selection)")
    test_fraction: float = Field(0.15, gt=0, lt=0.5, description="test share (scores, alignment)")
    metrics: tuple[str, ...] = Field(
        ("unbiased_cka", "mutual_knn"), min_length=1, description="first one gives the verdict"
    )
    k: int = Field(10, ge=1, description="neighbours of mutual_knn and cknna")
    normalize: bool = Field(True, description="L2-normalise each sample's features (protocol)")
    n_align: int = Field(_D["n_align"], ge=16, description="test samples used for alignment")
    null_permutations: int = Field(
        _D["null_permutations"],
        ge=1,
        description="shuffled pairings behind each model's null of its maximum over layer "
        "pairs; enough for the corrected level (79 for 2 metrics at ci 0.95)",
    )
    n_boot: int = Field(_D["n_boot"], ge=0, description="bootstrap resamples of each interval")
    ci: float = Field(0.95, gt=0, lt=1, description="coverage of the bootstrap intervals")
    min_rho: float = Field(0.5, gt=0, le=1, description="smallest |rho| the verdict counts")
    joint: bool = Field(
        True,
        description="also train the ladder on both modalities together, to measure how much "
        "of the task needs information only one modality carries (the unique-information gate)",
    )
    max_unique_share: float = Field(
        0.3,
        gt=0,
        le=1,
        description="share of the joint model's gain over chance that no single modality "
        "reaches, above which the verdict is 'unique information' (set at the paper's "
        "transition, U = 3-4 of 8 label bits unique, on the synthetic data: docs/diagnostic.md)",
    )
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: integer y is classification, float y regression"
    )
    seed: int = Field(0, description="seeds split, initialisations, batches, nulls, bootstrap")
    device: str | None = Field(None, description="cpu, cuda; None: CUDA when present")
    threads: int | None = Field(
        1,
        ge=1,
        description="torch CPU threads while running, restored after (None: leave as set); 1 "
        "is as fast for these small batched ops, never slowed by a busy machine, and gives the "
        "same numbers on any core count",
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_budget(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = BUDGETS.get(data.get("budget", "default"), {})
            data = {**preset, **data}
        return data

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from alignlab.metrics import list_metrics

        unknown = [m for m in v if m not in list_metrics()]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; choose from {list(list_metrics())}")
        return v

    @model_validator(mode="after")
    def _enough_permutations(self) -> DiagnosticSettings:
        _, alpha = corrected_level(self.ci, 2 * len(self.metrics))
        need = math.ceil(1 / alpha - 1e-9) - 1
        if self.null_permutations < need:
            raise ValueError(
                f"null_permutations = {self.null_permutations} cannot show alignment above "
                f"chance at the corrected level {alpha:.4g} (the smallest p-value is 1 / "
                f"(permutations + 1)); use {need} or more"
            )
        return self

    @field_validator("lrs", "wds")
    @classmethod
    def _valid_hyperparameters(cls, v: tuple[float, ...], info) -> tuple[float, ...]:
        if any(not np.isfinite(x) or x < 0 or (info.field_name == "lrs" and x == 0) for x in v):
            raise ValueError(f"{info.field_name} must be finite and positive (wds: >= 0), got {v}")
        return v


# -- the run ----------------------------------------------------------------------------------
def _can_join(x1: np.ndarray, x2: np.ndarray) -> bool:
    """Whether both modalities can be one input, features side by side: ``(n, d1 + d2)`` for
    flat inputs, ``(n, T, F1 + F2)`` for sequences of one length."""
    return x1.ndim == x2.ndim == 2 or (x1.ndim == x2.ndim == 3 and x1.shape[1] == x2.shape[1])


def _train_modality(m: int, inputs: dict, clean: CleanInputs, s: DiagnosticSettings, advance):
    """Every depth of modality ``m`` (:data:`~alignlab.studies.diagnostic.result.JOINT` for
    both together) on ``inputs`` (split -> ``(x, y)``): rows (one per member) and the trained
    populations."""
    x_train = inputs["train"][0]
    ladder = ladder_for(x_train)
    sequence = x_train.ndim == 3
    t = {k: (torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in inputs.items()}
    lrs = s.sequence_lrs if sequence else s.lrs
    grid = [(j, lr, wd) for j in range(s.seeds) for lr in lrs for wd in s.wds]
    rows, pops = [], {}
    for depth in range(1, s.max_depth + 1):
        init = derive_seeds(s.seeds, s.seed, m, depth)
        pop = ladder(
            t["train"],
            t["val"],
            depth=depth,
            seeds=[init[j] for j, _, _ in grid],
            lrs=[g[1] for g in grid],
            wds=[g[2] for g in grid],
            task=clean.task,
            n_outputs=clean.n_classes or 1,
            width=None if sequence else s.width,
            epochs=s.epochs,
            batch_size=s.batch_size,
            device=s.device,
            data_seed=derive_seeds(s.seeds + 1, s.seed, m, depth)[-1],
        )
        test = pop.evaluate(*t["test"]).tolist()
        # every member scored on TEST_PARTS random parts of the test split, for the test that
        # the members differ beyond test-set noise (result.performance_noise)
        order = np.random.default_rng(derive_seeds(1, s.seed, "parts")[0]).permutation(
            len(t["test"][1])
        )
        parts = np.array_split(order, min(TEST_PARTS, len(order)))
        by_part = torch.stack(
            [pop.evaluate(t["test"][0][i], t["test"][1][i]) for i in map(torch.from_numpy, parts)]
        ).T.tolist()  # (P, parts)
        for p, (j, lr, wd) in enumerate(grid):
            val = float(pop.best_val_score[p])
            rows.append(
                dict(
                    modality=m,
                    depth=depth,
                    seed=j,
                    init_seed=init[j],
                    lr=lr,
                    wd=wd,
                    member=p,
                    val_score=val,
                    test_score=test[p],
                    test_parts=by_part[p],
                    diverged=bool(np.isnan(val)),
                )
            )
        pops[depth] = pop
        advance(f"trained {f'x{m}' if m != JOINT else 'x1 + x2'}, depth {depth}")
    return rows, pops


def _align_direction(a: int, models: pd.DataFrame, pops: dict, x_align: dict, s):
    """Alignment of every selected modality-``a`` model to the other modality's best model."""
    from alignlab.metrics import get_metric

    b = 3 - a
    ref = models[(models.modality == b) & models.selected].fillna({"val_score": -np.inf})
    ref = ref.loc[ref.val_score.idxmax()]  # first on ties: shallowest, first seed
    layers_b = [f[int(ref.member)] for f in pops[b][int(ref.depth)].features(x_align[b])]
    ours = models[(models.modality == a) & models.selected]
    feats = {d: pops[a][d].features(x_align[a]) for d in sorted(set(ours.depth))}
    layers = [[f[int(row.member)] for f in feats[row.depth]] for row in ours.itertuples()]
    out = {
        f"{kind}_{m}": pd.Series(np.nan, index=models.index)
        for m in s.metrics
        for kind in ALIGNMENT_COLUMNS
    }
    metrics = {m: ({"k": s.k} if "k" in get_metric(m).params else {}) for m in s.metrics}
    packed = align_packed_multi(
        layers_b,
        layers,
        metrics,
        max_prepared=MAX_PREPARED,
        normalize=s.normalize,
        null_permutations=s.null_permutations,
        seed=s.seed,
        device=s.device,
    )
    for metric, scores in packed.items():
        out[f"raw_{metric}"][ours.index] = [p.score for p in scores]
        out[f"align_{metric}"][ours.index] = [p.null.calibrated for p in scores]
        out[f"null_{metric}"][ours.index] = [p.null.null_max_mean for p in scores]
        out[f"p_{metric}"][ours.index] = [p.null.p_value for p in scores]
    return out, ref.name


def diagnose(
    x1: Any,
    x2: Any,
    y: Any,
    settings: DiagnosticSettings | None = None,
    progress: bool | Callable[[str], None] = True,
    names: tuple[str, str] = ("x1", "x2"),
) -> DiagnosticResult:
    """Run the diagnostic on paired data and return its verdicts.

    Parameters
    ----------
    x1, x2 : arrays or tensors of shape (n, d1) and (n, d2)
        The two modalities; row i of each is the same sample.
    y : array or tensor of shape (n,)
        Integer class labels or float regression targets (scored by sign accuracy).
    settings : DiagnosticSettings, default DiagnosticSettings()
    progress : bool or callable(step_description)
        True: a rich progress bar on stderr; False: silent; a callable is told each step.
    names : the modalities' names in tables and sentences

    Returns
    -------
    DiagnosticResult
        Per direction the correlations, verdict and scores; every model in ``.models``.

    Raises
    ------
    ValueError
        Bad input (see :func:`~alignlab.studies.diagnostic.inputs.check_inputs`), before
        any training.
    """
    s = settings or DiagnosticSettings()
    clean = check_inputs(x1, x2, y, s.task, s.val_fraction, s.test_fraction)
    start = time.perf_counter()
    fractions = (1 - s.val_fraction - s.test_fraction, s.val_fraction, s.test_fraction)
    strata = clean.y if clean.task == "classification" else (clean.y >= 0).astype(np.int64)
    idx = dict(
        zip(("train", "val", "test"), stratified_split(strata, fractions, s.seed), strict=True)
    )
    xs = [_standardize_splits(x, idx) for x in (clean.x1, clean.x2)]
    splits = {
        k: (xs[0][i], xs[1][i], clean.y[idx[k]]) for i, k in enumerate(("train", "val", "test"))
    }
    n_test = len(idx["test"])
    pick = np.arange(n_test)
    if n_test > s.n_align:
        pick = np.sort(np.random.default_rng(s.seed).choice(n_test, s.n_align, replace=False))
    x_align = {m: torch.from_numpy(splits["test"][m - 1][pick]) for m in (1, 2)}

    joint = s.joint and _can_join(clean.x1, clean.x2)
    steps = (3 if joint else 2) * s.max_depth + 2
    with _Progress(progress, steps) as advance, _torch_threads(s.threads):
        rows, pops = [], {}
        for m in (1, 2):
            inputs = {k: (v[m - 1], v[2]) for k, v in splits.items()}
            r, pops[m] = _train_modality(m, inputs, clean, s, advance)
            rows += r
        if joint:  # how much of the task needs both modalities (result.unique_share)
            inputs = {k: (np.concatenate(v[:2], axis=-1), v[2]) for k, v in splits.items()}
            rows += _train_modality(JOINT, inputs, clean, s, advance)[0]
        models = pd.DataFrame(rows)
        models["selected"] = select_hyperparameters(models, ["modality"])
        models["reference"] = False
        for m in s.metrics:
            for kind in ALIGNMENT_COLUMNS:
                models[f"{kind}_{m}"] = np.nan
        for a in (1, 2):
            columns, ref = _align_direction(a, models, pops, x_align, s)
            for name, col in columns.items():
                models[name] = models[name].where(col.isna(), col)
            models.loc[ref, "reference"] = True
            advance(f"aligned x{a} models to the best x{3 - a} model")
    label = {1: names[0], 2: names[1], JOINT: f"{names[0]} + {names[1]}"}
    models.insert(0, "modality_name", [label[m] for m in models.modality])
    info = dict(
        n_samples=len(clean.y),
        split_sizes={k: len(v) for k, v in idx.items()},
        n_align=len(pick),
        shapes=[list(clean.x1.shape), list(clean.x2.shape)],
        widths=[_width(clean.x1, s.width), _width(clean.x2, s.width)],
        chance_score=_chance_score(splits["test"][2], clean.task),
    )
    return summarize(models, s, clean.task, clean.classes, names, info, time.perf_counter() - start)


def _chance_score(y: np.ndarray, task: str) -> float:
    """The test score of always answering the most frequent class (regression: sign)."""
    labels = y if task == "classification" else (y >= 0).astype(np.int64)
    return float(np.bincount(labels).max() / len(labels))


def _standardize_splits(x: np.ndarray, idx: dict) -> tuple[np.ndarray, ...]:
    """Z-score train, val and test with training statistics, per feature (sequences: over every
    sample and step, so (n, T, F) is scaled like its (n * T, F) view)."""
    parts = [x[idx[k]] for k in ("train", "val", "test")]
    flat = [p.reshape(-1, p.shape[-1]) for p in parts]
    scaled = standardize(*flat)[0]
    return tuple(a.reshape(p.shape) for a, p in zip(scaled, parts, strict=True))


def _width(x: np.ndarray, width: int | None) -> int:
    """Feature width of the encoders: the MLP rule for flat inputs, F for transformers."""
    return x.shape[-1] if x.ndim == 3 else mlp_width(x.shape[1], width)


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None: unchanged), restoring the setting after."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Progress:
    """A rich progress bar, a callable told each step, or nothing; ``with`` gives advance(msg)."""

    def __init__(self, progress: bool | Callable[[str], None], total: int) -> None:
        self.progress, self.total, self.bar = progress, total, None

    def __enter__(self) -> Callable[[str], None]:
        if callable(self.progress):
            return self.progress
        if not self.progress:
            return lambda message: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("diagnostic: training", total=self.total)
        return lambda message: self.bar.update(task, advance=1, description=message)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
