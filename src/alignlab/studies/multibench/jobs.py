"""The MultiBench study as jobs: train transformer populations, select, align for Table 1.

``train``
    One job per (modality, depth): every seed x (lr, wd) member of that depth trained as one
    population (in groups of members that fit ``memory_gb`` of activations).
selection
    One (lr, wd) per modality: the best mean validation score over every depth and seed (a
    diverged member counts 0). The selected depth x seed models are the modality's models.
``table1``
    One job per ordered pair (a, b): modality a's selected model with the best validation
    score (the reference) against each selected modality-b model: the metric (unbiased CKA)
    between every layer's pooled token on the first ``n_align`` test samples, features clamped
    at the ``clamp_q`` quantile (one threshold per model by default, as the release did for its
    stacked layers), maximum over layer pairs; with the b-model's test score beside it.

Jobs carry what they need (the spec as a mapping, the weights, and the data when it was given
in memory); a worker loads a named dataset itself, once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from alignlab.experiments.members import member_grid as _grid
from alignlab.experiments.members import member_rows
from alignlab.experiments.packing import align_packed
from alignlab.experiments.seeds import derive_seed
from alignlab.experiments.spec import stable_hash
from alignlab.studies.multibench.data import (
    IMAGE_MODALITIES,
    StudyData,
    check_study_data,
    load_dataset,
)

TRAIN_FIELDS = (
    "seeds",
    "lrs",
    "wds",
    "epochs",
    "batch_size",
    "dropout",
    "grad_clip",
    "pooling",
    "n_train",
    "memory_gb",
)
ALIGN_FIELDS = ("n_align", "metric", "clamp_q", "clamp_scope", "normalize", "null_permutations")
_LOADED: dict[str, StudyData] = {}  # per process: datasets loaded by name


def study_data(spec: dict[str, Any], data: StudyData | None = None) -> StudyData:
    """The spec's dataset (``data`` if given), restricted to its modalities and ``n_train``,
    checked; loaded once per process."""
    fields = ("dataset", "data", "size", "images", "normalization", "modalities", "n_train")
    key = stable_hash([spec[k] for k in fields])
    if data is None and key in _LOADED:
        return _LOADED[key]
    full = data
    if full is None:
        full = load_dataset(spec["dataset"], spec["data"], spec["size"], spec["images"],
                            spec["normalization"])  # fmt: skip
    out = full.restrict(spec["modalities"], spec["n_train"])
    check_study_data(out)
    if data is None:
        _LOADED.clear()
        _LOADED[key] = out
    return out


def member_grid(spec: dict[str, Any]) -> list[tuple[int, float, float]]:
    """(seed, lr, wd) of every member of a train job, seed-major."""
    return _grid(spec["seeds"], spec["lrs"], spec["wds"])


@dataclass(frozen=True)
class TrainJob:
    """Train every seed x (lr, wd) member of one depth of one modality."""

    spec: dict[str, Any] = field(repr=False, compare=False)
    modality: str
    depth: int
    data_key: str  # fingerprint of the data
    data: StudyData | None = field(default=None, repr=False, compare=False)  # when in memory
    phase: str = "train"

    @property
    def label(self) -> str:
        return f"train {self.modality} depth {self.depth}"

    @property
    def key(self) -> str:
        fields = {k: self.spec[k] for k in TRAIN_FIELDS}
        return stable_hash([self.phase, self.modality, self.depth, self.data_key, fields])


def _architecture(data: StudyData, spec: dict[str, Any], modality: str, depth: int) -> dict:
    x = data.splits["train"][modality][0]
    pooling = spec["pooling"]
    if pooling == "auto":
        pooling = "cls" if data.task == "classification" else "mean"
    n_outputs = data.n_classes if data.task == "classification" else 1
    kind = "vit" if modality in IMAGE_MODALITIES else "transformer"
    return dict(
        in_features=int(x.shape[2]),
        depth=depth,
        n_outputs=n_outputs,
        max_len=int(x.shape[1]),
        pooling=pooling,
        dropout=spec["dropout"],
        kind=kind,
    )


def run_train_job(job: TrainJob) -> tuple[list[dict], dict]:
    """Train one population; one row per member and the best-validation checkpoint."""
    from alignlab.models.population_transformer import PopulationTransformer
    from alignlab.train import TrainConfig
    from alignlab.train.sequence import train_sequence_population

    torch.set_num_threads(1)
    s = job.spec
    data = study_data(s, job.data)
    splits = data.modality(job.modality)
    arch = _architecture(data, s, job.modality, job.depth)
    grid = member_grid(s)
    seeds = [derive_seed(seed, job.depth, job.modality) for seed, _, _ in grid]
    model = PopulationTransformer(len(grid), **arch, seeds=seeds)
    config = TrainConfig(
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        grad_clip=s["grad_clip"],
        shared_batch_order=False,
        task=data.task,
        device=s["device"],
    )
    seq_len = splits["train"][0].shape[1]
    budget = int(s["memory_gb"] * 2**30)
    result = train_sequence_population(
        model,
        splits["train"],
        splits["val"],
        lrs=[lr for _, lr, _ in grid],
        wds=[wd for _, _, wd in grid],
        config=config,
        data_seeds=[seed for seed, _, _ in grid],
        dropout_seed=int(job.key[:8], 16),
        max_members=max(1, budget // model.member_bytes(s["batch_size"], seq_len)),
    )
    x, mask, y = splits["test"]
    test = result.evaluate(x, y, mask).tolist()
    context = {
        "study": "multibench",
        "dataset": data.name,
        "task": data.task,
        "modality": job.modality,
        "kind": arch["kind"],
        "depth": job.depth,
    }
    rows = member_rows(job.key, grid, result, test, s["epochs"], context)
    for row in rows:
        row["n_params"] = model.n_params
    return rows, result.checkpoint()


def select_hyperparameters(models: pd.DataFrame) -> pd.Series:
    """One (lr, wd) per modality by the shared rule
    (:func:`alignlab.experiments.selection.select_hyperparameters`)."""
    from alignlab.experiments.selection import select_hyperparameters as select

    return select(models, ["modality"])


def reference_row(models: pd.DataFrame, modality: str) -> pd.Series:
    """Modality's selected model with the best validation score (first of equals)."""
    rows = models[(models["modality"] == modality) & models["selected"]]
    return rows.loc[rows["val_score"].fillna(-np.inf).idxmax()]


@dataclass(frozen=True)
class AlignJob:
    """Align modality a's reference model with every selected modality-b model."""

    spec: dict[str, Any] = field(repr=False, compare=False)
    modality_a: str
    modality_b: str
    inputs_key: str  # hash of the train jobs and selected members the models come from
    reference: dict = field(default_factory=dict, repr=False, compare=False)
    models: list = field(default_factory=list, repr=False, compare=False)  # one dict per depth
    data: StudyData | None = field(default=None, repr=False, compare=False)
    phase: str = "align"

    @property
    def label(self) -> str:
        return f"align {self.modality_b} with the best {self.modality_a}"

    @property
    def key(self) -> str:
        fields = {k: self.spec[k] for k in ALIGN_FIELDS}
        return stable_hash([self.phase, self.modality_a, self.modality_b, self.inputs_key, fields])


def picked_models(rows: pd.DataFrame, checkpoint: dict, mask: pd.Series) -> dict:
    """Members ``mask`` (bool over ``rows``, one train job's rows in member order) with their
    weights (S, n_params), architecture and records."""
    index = np.flatnonzero(mask.to_numpy())
    picked = rows.iloc[index]
    return {
        "weights": checkpoint["weights"][torch.as_tensor(index, dtype=torch.long)],
        "architecture": checkpoint["architecture"],
        "rows": picked.drop(columns=["job", "key"]).to_dict("records"),
    }


def _features(models: dict, x: torch.Tensor, mask: torch.Tensor | None, device) -> list:
    """Pooled tokens of every layer of every member: S lists of ``depth`` (n, F) tensors."""
    from alignlab.models.population_transformer import PopulationTransformer

    rows = models["rows"]
    pop = PopulationTransformer(
        len(rows), **models["architecture"], seeds=[r["init_seed"] for r in rows]
    ).to(device)
    with torch.no_grad():
        pop.flat.copy_(models["weights"])
    m = None if mask is None else mask.to(device)
    feats = pop.features(x.to(device), m)  # depth x (S, n, F)
    return [[f[i] for f in feats] for i in range(len(rows))]


def run_align_job(job: AlignJob) -> tuple[list[dict], None]:
    """One row per modality-b model: its alignment with the reference and its performance."""
    from alignlab._device import resolve_device
    from alignlab.metrics import clamp_layers

    torch.set_num_threads(1)
    s = job.spec
    data = study_data(s, job.data)
    device = resolve_device(s["device"])
    xa, ma, _ = data.splits["test"][job.modality_a]
    xb, mb, _ = data.splits["test"][job.modality_b]
    n = min(s["n_align"], xa.shape[0])
    cut = lambda t: None if t is None else t[:n]  # noqa: E731
    ref = _features(job.reference, cut(xa), cut(ma), device)[0]
    others = [
        (r, f)
        for m in job.models
        for r, f in zip(m["rows"], _features(m, cut(xb), cut(mb), device), strict=True)
    ]
    if s["clamp_q"] is not None:  # clamp each model on its own, then align without clamping
        ref = clamp_layers(ref, s["clamp_q"], s["clamp_scope"])
        others = [(r, clamp_layers(f, s["clamp_q"], s["clamp_scope"])) for r, f in others]
    ref_row, rows = job.reference["rows"][0], []
    packed = align_packed(
        ref,
        [f for _, f in others],
        s["metric"],
        normalize=s["normalize"],
        null_permutations=s["null_permutations"],
        seed=derive_seed("null", job.key),
        device=device,
    )
    for (r, _), p in zip(others, packed, strict=True):
        rows.append(
            {
                "key": stable_hash([job.key, r["depth"], r["seed"]]),
                "job": job.key,
                "study": "multibench",
                "dataset": data.name,
                "metric": s["metric"],
                "modality_a": job.modality_a,
                "modality_b": job.modality_b,
                "depth_a": ref_row["depth"],
                "seed_a": ref_row["seed"],
                "val_a": ref_row["val_score"],
                "perf_a": ref_row["test_score"],
                "depth_b": r["depth"],
                "seed_b": r["seed"],
                "lr_b": r["lr"],
                "wd_b": r["wd"],
                "val_b": r["val_score"],
                "perf_b": r["test_score"],
                "n": n,
                **p.columns(),
            }
        )
    return rows, None
