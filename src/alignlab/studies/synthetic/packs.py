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

from alignlab.experiments.jobpack import JobPack
from alignlab.studies.synthetic.jobs import TrainJob, _member_grid, run_train_job, train_cells

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


def run_train_unit(job) -> tuple:
    """A train phase's unit of work: a :class:`JobPack` of cells as one population
    (:func:`train_cells`: per cell, a list of rows and a list of checkpoints), or one cell."""
    return train_cells(job.parts) if isinstance(job, JobPack) else run_train_job(job)
