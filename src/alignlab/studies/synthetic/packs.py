"""Cells of the synthetic study trained together: small populations packed into one.

Under successive halving a rung keeps a few settings of each cell (5 members of the paper's
last rung), and a population that small spends most of each step on per-call overheads: a
member-step of a population of 5 costs about 1.6x one of 100, of 1 about 4.6x
(``bench/synthetic_floor.py --members``). The train phase therefore runs the unfinished cells of
one (modality, depth, epochs, rung) as one population (``train_population``'s ``groups``), each
member on its own cell's data, on the path it would follow alone; every cell is stored as its
own job, so nothing downstream changes.
"""

from __future__ import annotations

import torch

from alignlab.experiments.runner import JobPack
from alignlab.experiments.seeds import derive_seed
from alignlab.studies.synthetic.jobs import (
    N_FEATURES,
    WIDTH,
    TrainJob,
    _member_grid,
    _outcome,
    _train_config,
    study_dataset,
)
from alignlab.studies.synthetic.spec import SyntheticStudySpec

PACK_MEMBERS = 128  # cells of one depth share a population up to this many members


def pack_train_jobs(jobs: list[TrainJob], done: set[str]) -> list:
    """``jobs`` to run, the unfinished ones of one (modality, depth, epochs, rung) packed into
    populations of up to ``PACK_MEMBERS`` members (:class:`JobPack`): a member-step of a
    population of 5 costs about 1.6x one of 100, of 1 about 4.6x (``bench/synthetic_floor.py``).
    Finished jobs stay single (the runner skips them); packing changes no stored result."""
    out: list = [job for job in jobs if job.key in done]
    n_done = len(out)
    open_packs: dict[tuple, list[TrainJob]] = {}
    for job in (j for j in jobs if j.key not in done):
        kind = (job.modality, job.depth, job.n_epochs, job.rung, job.resume is None)
        pack = open_packs.setdefault(kind, [])
        if pack and _members(pack) + _members([job]) > PACK_MEMBERS:
            out.append(JobPack(tuple(pack)))
            pack = open_packs[kind] = []
        pack.append(job)
    packs = out[n_done:] + [JobPack(tuple(pack)) for pack in open_packs.values()]
    # the dearest first, so that the phase does not end waiting on one long pack
    return out[:n_done] + sorted(packs, key=_cost, reverse=True)


def _cost(pack: JobPack) -> int:
    """Member-epochs times layers: the work of a pack, for the order packs start in."""
    return sum(_members([j]) * (j.n_epochs - _start(j)) * (j.depth + 1) for j in pack.parts)


def _start(job: TrainJob) -> int:
    return 0 if job.resume is None else int(job.resume["epoch"])


def _members(jobs: list[TrainJob]) -> int:
    return sum(len(_member_grid(job)) for job in jobs)


def run_train_pack(pack) -> tuple[list[list[dict]], list[dict]]:
    """Train the cells of a :class:`JobPack` as one population (``train_population``'s
    ``groups``); per cell, the rows and checkpoint :func:`run_train_job` would give."""
    from alignlab.models import PopulationMLP
    from alignlab.train import concat_states, score_groups, train_population

    torch.set_num_threads(1)
    parts: tuple[TrainJob, ...] = pack.parts
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


def run_train_unit(job) -> tuple:
    """A train phase's unit of work: a :class:`JobPack` of cells, or one cell alone."""
    from alignlab.studies.synthetic.jobs import run_train_job

    return run_train_pack(job) if isinstance(job, JobPack) else run_train_job(job)
