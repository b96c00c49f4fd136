"""The synthetic study as jobs: train populations, select hyperparameters, align encoders.

A spec expands into two phases of independent jobs:

``train``
    One job per (U, modality, D_phi, depth): every seed x (lr, wd) member of that depth trained
    as one population. Modality 1 is never transformed, so its jobs have no D_phi and are shared
    by every D_phi: no model is trained twice.
``align``
    One job per (U, D_phi), after every train job of U has finished and the hyperparameters
    are selected on validation accuracy: each selected modality-2 encoder (every depth and
    seed) is aligned with the selected modality-1 encoders of ``align_depths1`` and the same
    seed, with every metric, on ``n_align`` paired test samples. An encoder pair's score is the
    maximum over its layer pairs.

Jobs carry everything they need (the spec as a mapping, and for ``align`` the weights), so a
worker process or a Dask worker needs no access to the run directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from alignlab.experiments.members import member_grid as _grid
from alignlab.experiments.members import member_rows
from alignlab.experiments.packing import align_packed_multi
from alignlab.experiments.seeds import derive_seed
from alignlab.experiments.spec import stable_hash
from alignlab.studies.synthetic.spec import SyntheticStudySpec

N_FEATURES = 12  # 8 shared + 4 unique bits per modality
WIDTH = 12  # encoder width of the protocol
MODALITIES = ("x1", "x2")  # modality 1 (never transformed) and modality 2 (transformed by phi)


@dataclass(frozen=True)
class TrainJob:
    """Train every seed x (lr, wd) member of one depth for one modality and label set."""

    spec: dict[str, Any] = field(repr=False, compare=False)
    u: int
    modality: int
    dphi: int | None  # None for modality 1, which is not transformed
    depth: int
    arms: tuple[tuple[float, float], ...] | None = None  # (lr, wd) trained; None: the whole grid
    epochs: int | None = None  # None: the spec's epochs1 or epochs2
    rung: int | None = None  # successive halving: which rung (0 first); None: the exact rule
    resume_key: str | None = None  # the earlier rung's job these members go on from
    resume: dict | None = field(default=None, repr=False, compare=False)  # its state, selected
    seeds: tuple[int, ...] | None = None  # the members' seeds; None: the spec's
    completion: bool = False  # the selected setting on the seeds that took no part in the search
    phase: str = "train"

    @property
    def label(self) -> str:
        cell = "" if self.dphi is None else f" D_phi={self.dphi}"
        rung = "" if self.rung is None else f" rung {self.rung + 1}"
        rung += " (the other seeds)" if self.completion else ""
        return f"train U={self.u}{cell} {MODALITIES[self.modality - 1]} depth {self.depth}{rung}"

    @property
    def n_epochs(self) -> int:
        """Epochs this job trains."""
        if self.epochs is not None:
            return self.epochs
        return self.spec["epochs1"] if self.modality == 1 else self.spec["epochs2"]

    @property
    def settings(self) -> list[tuple[float, float]]:
        """The (lr, wd) settings trained, in grid order."""
        if self.arms is not None:
            return [tuple(a) for a in self.arms]
        return [(lr, wd) for lr in self.spec["lrs"] for wd in self.spec["wds"]]

    @property
    def key(self) -> str:
        s = self.spec
        extra = {}  # only where set, so the exact rule's keys stay those of earlier runs
        if self.arms is not None:
            extra["arms"] = [list(a) for a in self.arms]
        if self.resume_key is not None:
            extra["resume"] = self.resume_key
        if s.get("patience") is not None:
            extra["patience"] = s["patience"]
        if self.seeds is not None:
            extra["seeds_trained"] = list(self.seeds)
        if self.completion:
            extra["completion"] = True
        return stable_hash(
            {
                "phase": self.phase,
                "u": self.u,
                "modality": self.modality,
                "dphi": self.dphi,
                "transform": s["transform"] if self.modality == 2 else None,
                "depth": self.depth,
                "epochs": self.n_epochs,
                **{k: s[k] for k in _TRAINING_FIELDS},
                **extra,
            }
        )


_TRAINING_FIELDS = ("lrs", "wds", "batch_size", "grad_clip", "seeds", "n_samples", "data_seed")


@dataclass(frozen=True)
class AlignJob:
    """Align the selected encoders of one (U, D_phi) cell with every metric."""

    spec: dict[str, Any] = field(repr=False, compare=False)
    u: int
    dphi: int
    models1: dict = field(repr=False, compare=False)  # depth1 -> checkpoint of selected members
    models2: dict = field(repr=False, compare=False)  # depth2 -> checkpoint of selected members
    inputs_key: str = ""  # hash of the train jobs and selections the models come from
    phase: str = "align"

    @property
    def label(self) -> str:
        return f"align U={self.u} D_phi={self.dphi}"

    @property
    def key(self) -> str:
        s = self.spec
        return stable_hash(
            {
                "phase": self.phase,
                "u": self.u,
                "dphi": self.dphi,
                "inputs": self.inputs_key,
                **{k: s[k] for k in ("metrics", "n_align", "normalize", "align_depths1")},
                "null_permutations": s.get("null_permutations", 0),
            }
        )


def expand_train_jobs(spec: SyntheticStudySpec) -> list[TrainJob]:
    """Every train job of the spec: modality 1 per (U, depth), modality 2 per (U, D_phi, depth),
    each with the seeds of the search (``search_seeds``; all of them by default)."""
    raw = spec.model_dump(mode="json")
    seeds = tuple(spec.seeds[: spec.search_seeds]) if spec.completion_seeds else None
    jobs = [
        TrainJob(raw, u, 1, None, d, seeds=seeds) for u in spec.uniqueness for d in spec.depths1
    ]
    jobs += [
        TrainJob(raw, u, 2, dphi, d, seeds=seeds)
        for u in spec.uniqueness
        for dphi in spec.dphi
        for d in spec.depths2
    ]
    return jobs


def member_grid(spec: SyntheticStudySpec) -> list[tuple[int, float, float]]:
    """(seed, lr, wd) of every population member, seed-major: the order of rows and weights."""
    return _grid(spec.seeds, spec.lrs, spec.wds)


# -- data -------------------------------------------------------------------------------------
def study_dataset(spec: dict[str, Any], u: int, dphi: int | None):
    """The paired dataset of uniqueness ``u`` with modality 2 transformed at depth ``dphi``.

    ``dphi=None`` (modality 1's jobs) leaves modality 2 untransformed; modality 1 is the same
    at every D_phi. Built once per configuration and then read from the on-disk cache.
    """
    from alignlab.data.synthetic import SyntheticConfig, build_synthetic

    config = SyntheticConfig(
        r=8 - u,
        dphi=0 if dphi is None else dphi,
        transform="none" if dphi is None else spec["transform"],
        n_samples=spec["n_samples"],
        split_seed=spec["data_seed"],
    )
    return build_synthetic(config)


# -- train phase ------------------------------------------------------------------------------
def _member_grid(job: TrainJob) -> list[tuple[int, float, float]]:
    """(seed, lr, wd) of the job's members, seed-major, as rows and weights are ordered."""
    seeds = job.spec["seeds"] if job.seeds is None else job.seeds
    return [(seed, lr, wd) for seed in seeds for lr, wd in job.settings]


def _train_config(spec: SyntheticStudySpec, job: TrainJob):
    from alignlab.train import TrainConfig

    return TrainConfig(
        epochs=job.n_epochs,
        batch_size=spec.batch_size,
        grad_clip=spec.grad_clip,
        shared_batch_order=False,
        early_stopping_patience=spec.patience,
    )


def _outcome(job: TrainJob, result, test_scores: list[float]) -> tuple[list[dict], dict]:
    """One cell's rows (one per member) and its best-validation checkpoint (with the state
    to go on from, under successive halving)."""
    context = {
        "study": "synthetic",
        "u": job.u,
        "r": 8 - job.u,
        "dphi": job.dphi,
        "modality": MODALITIES[job.modality - 1],
        "depth": job.depth,
        **({} if job.rung is None else {"rung": job.rung}),
        "searched": not job.completion,
    }
    rows = member_rows(job.key, _member_grid(job), result, test_scores, job.n_epochs, context)
    if job.rung is None:
        return rows, result.checkpoint()
    return rows, {**result.checkpoint(), "state": result.state}  # the next rung goes on from it


def run_train_job(job: TrainJob) -> tuple[list[dict], dict]:
    """Train one population; rows (one per member) and the best-validation checkpoint."""
    (rows,), (tensors,) = train_cells([job])
    return rows, tensors


def train_cells(parts: Sequence[TrainJob]) -> tuple[list[list[dict]], list[dict]]:
    """Train the cells ``parts`` (one modality, depth, epoch budget and rung) as one population,
    each member on its own cell's data (``train_population``'s ``groups``): per cell, its
    rows (one per member) and best-validation checkpoint, as a population of it alone gives."""
    from alignlab.models import PopulationMLP
    from alignlab.train import concat_states, score_groups, train_population

    torch.set_num_threads(1)
    first = parts[0]
    spec = SyntheticStudySpec.model_validate(first.spec)
    data = [study_dataset(job.spec, job.u, job.dphi) for job in parts]
    if len({d.n_classes for d in data}) > 1:
        raise ValueError("the cells of a pack must have the same number of classes")

    def stacked(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([d.split(split).modality(first.modality)[0] for d in data])
        return x, torch.stack([getattr(d, split).y for d in data])  # (G, n, 12), (G, n)

    grids = [_member_grid(job) for job in parts]
    grid = [m for g in grids for m in g]
    groups = [i for i, g in enumerate(grids) for _ in g]
    seeds = [derive_seed(s, first.modality, first.depth) for s, _, _ in grid]
    model = PopulationMLP(len(grid), N_FEATURES, WIDTH, first.depth, data[0].n_classes, seeds=seeds)
    resume = None if first.resume is None else concat_states([job.resume for job in parts])
    result = train_population(
        model,
        stacked("train"),
        stacked("val"),
        lrs=[lr for _, lr, _ in grid],
        wds=[wd for _, _, wd in grid],
        config=_train_config(spec, first),
        data_seeds=[s for s, _, _ in grid],
        resume=resume,
        groups=groups,
    )
    device = result.best_model.flat.device
    x_test, y_test = (t.to(device) for t in stacked("test"))
    groups_t = torch.tensor(groups, device=device)
    test = score_groups(result.best_model, x_test, y_test, groups_t, "classification").cpu()
    outcomes, start = [], 0
    for job, g in zip(parts, grids, strict=True):
        index = list(range(start, start + len(g)))
        outcomes.append(_outcome(job, result.take(index), test[index].tolist()))
        start += len(g)
    return [rows for rows, _ in outcomes], [tensors for _, tensors in outcomes]


# -- selection --------------------------------------------------------------------------------
def select_hyperparameters(models: pd.DataFrame, selection: str) -> pd.Series:
    """The protocol's selection (:func:`alignlab.experiments.selection.select_hyperparameters`):
    ``per_modality``, one (lr, wd) per (U, modality) over every depth, D_phi and seed;
    ``per_cell``, one per (U, modality, D_phi, depth)."""
    from alignlab.experiments.selection import select_hyperparameters as select

    by = ["u", "modality"] if selection == "per_modality" else ["u", "modality", "dphi", "depth"]
    return select(models, by)


# -- align phase ------------------------------------------------------------------------------
def selected_models(rows: pd.DataFrame, checkpoint: dict) -> dict:
    """The selected members of one train job: weights (S, n_params), seeds and scores."""
    picked = rows.reset_index(drop=True)
    index = picked.index[picked["selected"]].to_numpy()
    return {
        "weights": checkpoint["weights"][torch.tensor(index.tolist(), dtype=torch.long)],
        "architecture": checkpoint["architecture"],
        "seeds": picked.loc[index, "seed"].tolist(),
        "init_seeds": picked.loc[index, "init_seed"].tolist(),
        "test_score": picked.loc[index, "test_score"].tolist(),
    }


def merge_selected(parts: list[dict]) -> dict:
    """One :func:`selected_models` mapping from several of the same cell (the search's seeds
    and the other seeds, ``search_seeds``): weights (S1 + S2 + ..., n_params) and the per-member
    lists, members in order."""
    if len(parts) == 1:
        return parts[0]
    return {
        "weights": torch.cat([p["weights"] for p in parts]),
        "architecture": parts[0]["architecture"],
        **{k: [v for p in parts for v in p[k]] for k in ("seeds", "init_seeds", "test_score")},
    }


def _features(models: dict, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's features of the selected members: ``depth`` tensors of (S, n, width)."""
    from alignlab.models import PopulationMLP

    arch = models["architecture"]
    model = PopulationMLP(
        len(models["seeds"]),
        arch["in_features"],
        arch["width"],
        arch["depth"],
        arch["out_features"],
        seeds=models["init_seeds"],
    )
    with torch.no_grad():
        model.flat.copy_(models["weights"])
        return model.features(x)


def run_align_job(job: AlignJob) -> tuple[list[dict], None]:
    """Align every selected modality-2 encoder with the selected modality-1 encoders."""
    torch.set_num_threads(1)
    spec = SyntheticStudySpec.model_validate(job.spec)
    data = study_dataset(job.spec, job.u, job.dphi)
    x1, x2 = data.test.x1[: spec.n_align], data.test.x2[: spec.n_align]
    feats1 = {d: _features(m, x1) for d, m in job.models1.items()}
    feats2 = {d: _features(m, x2) for d, m in job.models2.items()}
    depths2 = sorted(feats2)
    rows = []
    for depth1, models1 in sorted(job.models1.items()):
        for s, seed in enumerate(models1["seeds"]):
            reference = [f[s] for f in feats1[depth1]]
            index2 = {d: job.models2[d]["seeds"].index(seed) for d in depths2}
            # all modality-2 encoders of this seed in one call: per-layer work is done once
            others = [[f[index2[d]] for f in feats2[d]] for d in depths2]
            # every metric in one call: one Gram matrix per layer, one set of shuffled pairings
            packed = align_packed_multi(
                reference,
                others,
                {m.name: m.params for m in spec.metrics},
                normalize=spec.normalize,
                null_permutations=spec.null_permutations,
                seed=derive_seed("null", job.key),
            )
            for metric in spec.metrics:
                for d, p in zip(depths2, packed[metric.name], strict=True):
                    rows.append(
                        {
                            "key": stable_hash([job.key, metric.name, depth1, seed, d]),
                            "job": job.key,
                            "study": "synthetic",
                            "u": job.u,
                            "dphi": job.dphi,
                            "metric": metric.name,
                            "k": metric.k,
                            "modality_a": MODALITIES[0],
                            "modality_b": MODALITIES[1],
                            "depth_a": depth1,
                            "seed_a": seed,
                            "depth_b": d,
                            "seed_b": seed,
                            "perf_a": models1["test_score"][s],
                            "perf_b": job.models2[d]["test_score"][index2[d]],
                            **p.columns(),
                        }
                    )
    return rows, None
