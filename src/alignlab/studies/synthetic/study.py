"""The synthetic study end to end: train populations, select hyperparameters, align encoders.

Phases (jobs in :mod:`alignlab.studies.synthetic.jobs`): ``train`` (one population per
(U, modality, D_phi, depth)), then ``align`` (one job per (U, D_phi)). Tables: ``models`` (one
row per trained member, with ``selected``) and ``alignments`` (one row per aligned encoder pair
and metric); columns in ``docs/tables.md``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from alignlab.experiments.registry import Prepared, Study
from alignlab.experiments.runner import RunContext
from alignlab.experiments.spec import stable_hash
from alignlab.experiments.store import RunStore
from alignlab.studies.synthetic.jobs import (
    MODALITIES,
    AlignJob,
    TrainJob,
    _member_grid,
    expand_train_jobs,
    merge_selected,
    run_align_job,
    select_hyperparameters,
    selected_models,
)
from alignlab.studies.synthetic.packs import pack_train_jobs, run_train_unit
from alignlab.studies.synthetic.spec import SyntheticStudySpec


def prepare(spec: SyntheticStudySpec) -> Prepared:
    """Nothing to load: the generator builds every dataset inside the jobs."""
    return Prepared()


def run(ctx: RunContext, spec: SyntheticStudySpec, prepared: Prepared) -> dict[str, pd.DataFrame]:
    if spec.selection_rule == "halving":
        train_jobs, models = _train_halving(ctx, spec)
    else:
        train_jobs = expand_train_jobs(spec)
        units = pack_train_jobs(train_jobs, ctx.store.done_keys("train"))
        ctx.run_phase("train", units, run_train_unit, "train populations", _train_total(spec))
        models = ctx.rows("train", [j.key for j in train_jobs])
        models["dphi"] = models["dphi"].astype("Int64")
        models["selected"] = select_hyperparameters(models, spec.selection)
    # rows stored before the column existed took part in the search: every seed did then
    searched = models["searched"] if "searched" in models else pd.Series(True, models.index)
    models["searched"] = searched.fillna(True).astype(bool)
    sources = {_cell(j): [j] for j in train_jobs}  # cell -> the jobs its selected members are in
    if spec.completion_seeds:
        completed, models = _complete(ctx, spec, train_jobs, models)
        for job in completed:
            sources[_cell(job)].append(job)
    ctx.write_table("models", models)

    align_jobs = _align_jobs(spec, sources, models)
    done = ctx.store.done_keys("align")
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    loaded = [
        job if job.key in done else _with_weights(ctx.store, job, rows_of) for job in align_jobs
    ]
    keys = ctx.run_phase("align", loaded, run_align_job, "align encoders")
    alignments = ctx.write_table("alignments", ctx.rows("align", keys))
    return {"models": models, "alignments": alignments}


def _cell(job: TrainJob) -> tuple:
    return (job.u, job.modality, job.dphi, job.depth)


def _train_total(spec: SyntheticStudySpec) -> int:
    """Train jobs of the run: one per cell (per rung under halving), and one more per cell for
    the seeds outside the search (``search_seeds``)."""
    cells = len(expand_train_jobs(spec))
    searched = _halving_train_jobs(spec) if spec.selection_rule == "halving" else cells
    return searched + (cells if spec.completion_seeds else 0)


def _complete(
    ctx: RunContext, spec: SyntheticStudySpec, jobs: list[TrainJob], models: pd.DataFrame
) -> tuple[list[TrainJob], pd.DataFrame]:
    """Train each cell's selected setting on the seeds that took no part in the search
    (``spec.completion_seeds``), to the full epochs and from the start, as the protocol trains
    every seed; their rows join the models table as selected (``searched`` False)."""
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    todo = []
    for job in jobs:
        rows = rows_of[job.key]
        ((lr, wd),) = set(rows.loc[rows["selected"], ["lr", "wd"]].itertuples(index=False))
        todo.append(replace(job, arms=((lr, wd),), seeds=tuple(spec.completion_seeds),
                            epochs=None, rung=None, resume_key=None, resume=None,
                            completion=True))  # fmt: skip
    units = pack_train_jobs(todo, ctx.store.done_keys("train"))
    title = "train the selected settings (the other seeds)"
    ctx.run_phase("train", units, run_train_unit, title, total=_train_total(spec))
    extra = ctx.rows("train", [j.key for j in todo]).assign(selected=True)
    models = pd.concat([models, extra], ignore_index=True)
    models["dphi"] = models["dphi"].astype("Int64")
    if "rung" in models:  # halving: the other seeds' rows reached no rung
        models["rung"] = models["rung"].astype("Int64")
    return todo, models


def rung_epochs(epochs: int, rungs: int) -> list[int]:
    """Epoch budgets of successive halving: ``epochs / 2^(rungs-1), ..., epochs / 2, epochs``,
    rounded up, at least 1, without repeats.

    >>> rung_epochs(300, 5), rung_epochs(12, 5)
    ([19, 38, 75, 150, 300], [1, 2, 3, 6, 12])
    """
    budgets = [max(1, math.ceil(epochs / 2 ** (rungs - 1 - i))) for i in range(rungs)]
    return sorted(set(budgets))


def _train_halving(
    ctx: RunContext, spec: SyntheticStudySpec
) -> tuple[list[TrainJob], pd.DataFrame]:
    """Successive halving over the (lr, wd) grid, one run of rungs per (U, modality).

    At each rung every surviving setting of a (U, modality) goes on training, from where the
    previous rung left it (weights, optimizer, batch order: the exact rule's path), up to the
    rung's epochs at every D_phi, depth and seed; the better half by the protocol's selection
    rule (mean validation accuracy over all of them) survives. The settings still alive at the
    last rung reach the full epochs and the protocol's rule selects among them. Each member's
    row is the one of the last rung it reached (``rung``, ``epochs`` say which). Returns the
    last rung's jobs (the selected weights are theirs) and the models table.
    """
    from alignlab.experiments.selection import halving_survivors

    by = (
        ["u", "modality"]
        if spec.selection == "per_modality"
        else ["u", "modality", "dphi", "depth"]
    )
    grid = [(lr, wd) for lr in spec.lrs for wd in spec.wds]
    budgets = _rung_budgets(spec)
    n_rungs = max(len(b) for b in budgets.values())
    alive: dict[tuple, list[tuple[float, float]]] = {}
    final: dict[tuple, TrainJob] = {}  # (u, modality, dphi, depth) -> its last rung's job
    frames = []
    previous: dict[tuple, TrainJob] = {}  # cell -> its job at the previous rung
    for rung in range(n_rungs):
        jobs = []
        for job in expand_train_jobs(spec):
            b = budgets[job.modality]
            if rung >= len(b):
                continue  # this modality's budgets are done (few epochs)
            cell = (job.u, job.modality, job.dphi, job.depth)
            arms = tuple(alive.get(_group(job, spec.selection), grid))
            before = previous.get(cell)
            job = replace(job, arms=arms, epochs=b[rung], rung=rung)
            if before is not None:
                job = replace(job, resume_key=before.key)
            jobs.append(job)
        if not jobs:
            break
        done = ctx.store.done_keys("train")
        jobs = [j if j.key in done else _with_state(ctx.store, j, previous, spec) for j in jobs]
        title = f"train populations (rung {rung + 1})"
        units = pack_train_jobs(jobs, done)
        ctx.run_phase("train", units, run_train_unit, title, total=_train_total(spec))
        previous.update({(j.u, j.modality, j.dphi, j.depth): j for j in jobs})
        rows = ctx.rows("train", [j.key for j in jobs])
        last = [j for j in jobs if j.rung == len(budgets[j.modality]) - 1]
        for j in last:
            final[(j.u, j.modality, j.dphi, j.depth)] = j
        survivors = halving_survivors(_with_groups(rows), by)
        frames.append((rows, survivors, {j.key for j in last}))
        for group, arms in survivors.items():
            alive[_norm(group)] = arms
    models = _halving_table(frames, spec.selection)
    return list(final.values()), models


def _rung_budgets(spec: SyntheticStudySpec) -> dict[int, list[int]]:
    """Modality (1, 2) -> its rungs' epoch budgets under successive halving."""
    pairs = ((1, spec.epochs1), (2, spec.epochs2))
    return {m: rung_epochs(e, spec.halving_rungs) for m, e in pairs}


def _halving_train_jobs(spec: SyntheticStudySpec) -> int:
    """Train jobs of a halving run: every (U, modality, D_phi, depth) once per rung of its
    modality (a rung trains the surviving settings only, but it is still one job)."""
    budgets = _rung_budgets(spec)
    return sum(len(budgets[job.modality]) for job in expand_train_jobs(spec))


def _with_state(store: RunStore, job: TrainJob, previous: dict, spec: SyntheticStudySpec):
    """``job`` with the stored state of its surviving members at the previous rung."""
    from alignlab.train import take_state

    if job.resume_key is None:
        return job
    before = previous[(job.u, job.modality, job.dphi, job.depth)]
    old, new = _member_grid(before), _member_grid(job)
    state = store.job_tensors("train", before.key)["state"]
    return replace(job, resume=take_state(state, [old.index(m) for m in new]))


def _group(job: TrainJob, selection: str) -> tuple:
    modality = MODALITIES[job.modality - 1]
    if selection == "per_modality":
        return (job.u, modality)
    return (job.u, modality, job.dphi, job.depth)


def _norm(group: tuple) -> tuple:
    return tuple(None if pd.isna(v) else v for v in group)


def _with_groups(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["dphi"] = rows["dphi"].astype("Int64")
    return rows


def _halving_table(frames: list, selection: str) -> pd.DataFrame:
    """Each member's row from the last rung it reached; ``selected`` among the last rung's."""
    kept = []
    for i, (rows, survivors, last_keys) in enumerate(frames):
        rows = _with_groups(rows)
        done = rows["job"].isin(last_keys)
        if i + 1 < len(frames):  # members that go on are reported by a later rung
            goes_on = [
                (lr, wd) in set(survivors.get(_norm(g), []))
                for g, lr, wd in zip(_keys(rows, selection), rows["lr"], rows["wd"], strict=True)
            ]
            rows = rows[done | ~pd.Series(goes_on, index=rows.index)]
        kept.append(rows)
    models = pd.concat(kept, ignore_index=True)
    models["dphi"] = models["dphi"].astype("Int64")
    last = models["job"].isin(set().union(*(k for _, _, k in frames)))
    selected = pd.Series(False, index=models.index)
    selected[last] = select_hyperparameters(models[last], selection)
    models["selected"] = selected.astype(bool)
    return models


def _keys(rows: pd.DataFrame, selection: str) -> list[tuple]:
    cols = ["u", "modality"] if selection == "per_modality" else ["u", "modality", "dphi", "depth"]
    return [_norm(tuple(v)) for v in rows[cols].itertuples(index=False)]


def _align_jobs(
    spec: SyntheticStudySpec, sources: dict[tuple, list[TrainJob]], models: pd.DataFrame
) -> list[AlignJob]:
    """One align job per (U, D_phi), keyed by its train jobs and their selected settings;
    ``sources`` maps each cell to the train jobs that hold its selected members."""
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    raw = spec.model_dump(mode="json")
    out = []
    for u in spec.uniqueness:
        for dphi in spec.dphi:
            cells1 = {d: sources[(u, 1, None, d)] for d in spec.align_depths1}
            cells2 = {d: sources[(u, 2, dphi, d)] for d in spec.depths2}
            jobs = [j for js in [*cells1.values(), *cells2.values()] for j in js]
            chosen = [
                rows_of[j.key].loc[rows_of[j.key]["selected"], ["lr", "wd"]].values.tolist()
                for j in jobs
            ]
            inputs_key = stable_hash([[j.key for j in jobs], chosen])
            # the train jobs are replaced by their selected weights before the job runs
            out.append(AlignJob(raw, u, dphi, cells1, cells2, inputs_key))
    return out


def _with_weights(store: RunStore, job: AlignJob, rows_of: dict[str, pd.DataFrame]) -> AlignJob:
    """``job`` with its sources' selected weights; ``rows_of`` maps train job key -> rows."""

    def picked(sources: list[TrainJob]) -> dict:
        return merge_selected(
            [selected_models(rows_of[j.key], store.job_tensors("train", j.key)) for j in sources]
        )

    return replace(
        job,
        models1={d: picked(j) for d, j in job.models1.items()},
        models2={d: picked(j) for d, j in job.models2.items()},
    )


def totals(spec: SyntheticStudySpec, store: RunStore) -> dict[str, int | None]:
    return {"train": _train_total(spec), "align": len(spec.uniqueness) * len(spec.dphi)}


def summary(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The key table of the report, as lines: per metric and U, the maximum alignment and the
    median over D_phi of Spearman's rho between alignment and modality-2 accuracy."""
    from alignlab.studies.synthetic.summary import key_table

    frame = key_table(tables["alignments"])
    if frame.empty:
        return ["no alignments"]
    lines = [
        "per uniqueness level U (modality-1 depth = smallest): maximum alignment, and the "
        "median over D_phi of Spearman's rho(alignment, modality-2 test accuracy), "
        "the report's statistic"
    ]
    for r in frame.itertuples():
        rho = "undefined" if pd.isna(r.median_spearman) else f"{r.median_spearman:+.2f}"
        lines.append(
            f"  {r.metric:>13}  U={r.u}  max alignment {r.max_alignment:.3f}  median rho {rho}"
        )
    return lines


STUDY = Study(
    name="synthetic",
    spec_type=SyntheticStudySpec,
    phases=("train", "align"),
    prepare=prepare,
    run=run,
    totals=totals,
    summary=summary,
    description="Train, select and align the controlled synthetic study (resumable).",
)
