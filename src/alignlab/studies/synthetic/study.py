"""The synthetic study end to end: train populations, select hyperparameters, align encoders.

Phases (jobs in :mod:`alignlab.studies.synthetic.jobs`): ``train`` (one population per
(U, modality, D_phi, depth)), then ``align`` (one job per (U, D_phi)). Tables: ``models`` (one
row per trained member, with ``selected``) and ``alignments`` (one row per aligned encoder pair
and metric); columns in ``docs/tables.md``.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from alignlab.experiments.registry import Prepared, Study
from alignlab.experiments.runner import RunContext
from alignlab.experiments.spec import stable_hash
from alignlab.experiments.store import RunStore
from alignlab.studies.synthetic.jobs import (
    AlignJob,
    TrainJob,
    expand_train_jobs,
    run_align_job,
    run_train_job,
    select_hyperparameters,
    selected_models,
)
from alignlab.studies.synthetic.spec import SyntheticStudySpec


def prepare(spec: SyntheticStudySpec) -> Prepared:
    """Nothing to load: the generator builds every dataset inside the jobs."""
    return Prepared()


def run(ctx: RunContext, spec: SyntheticStudySpec, prepared: Prepared) -> dict[str, pd.DataFrame]:
    train_jobs = expand_train_jobs(spec)
    ctx.run_phase("train", train_jobs, run_train_job, "train populations")
    models = ctx.rows("train", [j.key for j in train_jobs])
    models["dphi"] = models["dphi"].astype("Int64")
    models["selected"] = select_hyperparameters(models, spec.selection)
    ctx.write_table("models", models)

    align_jobs = _align_jobs(spec, train_jobs, models)
    done = ctx.store.done_keys("align")
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    loaded = [
        job if job.key in done else _with_weights(ctx.store, job, rows_of) for job in align_jobs
    ]
    keys = ctx.run_phase("align", loaded, run_align_job, "align encoders")
    alignments = ctx.write_table("alignments", ctx.rows("align", keys))
    return {"models": models, "alignments": alignments}


def _align_jobs(
    spec: SyntheticStudySpec, jobs: list[TrainJob], models: pd.DataFrame
) -> list[AlignJob]:
    """One align job per (U, D_phi), keyed by its train jobs and their selected settings."""
    by_cell = {(j.u, j.modality, j.dphi, j.depth): j for j in jobs}
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    raw = spec.model_dump(mode="json")
    out = []
    for u in spec.uniqueness:
        for dphi in spec.dphi:
            sources1 = [by_cell[(u, 1, None, d)] for d in spec.align_depths1]
            sources2 = [by_cell[(u, 2, dphi, d)] for d in spec.depths2]
            chosen = [
                rows_of[j.key].loc[rows_of[j.key]["selected"], ["lr", "wd"]].values.tolist()
                for j in sources1 + sources2
            ]
            inputs_key = stable_hash([[j.key for j in sources1 + sources2], chosen])
            job = AlignJob(raw, u, dphi, {}, {}, inputs_key)
            out.append(replace(job, models1=_sources(sources1), models2=_sources(sources2)))
    return out


def _sources(jobs: list[TrainJob]) -> dict:
    return {j.depth: j for j in jobs}  # replaced by the selected weights before running


def _with_weights(store: RunStore, job: AlignJob, rows_of: dict[str, pd.DataFrame]) -> AlignJob:
    """``job`` with its sources' selected weights; ``rows_of`` maps train job key -> rows."""
    def picked(source: TrainJob) -> dict:
        return selected_models(rows_of[source.key], store.job_tensors("train", source.key))

    return replace(
        job,
        models1={d: picked(j) for d, j in job.models1.items()},
        models2={d: picked(j) for d, j in job.models2.items()},
    )


def totals(spec: SyntheticStudySpec, store: RunStore) -> dict[str, int | None]:
    return {
        "train": len(expand_train_jobs(spec)),
        "align": len(spec.uniqueness) * len(spec.dphi),
    }


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
