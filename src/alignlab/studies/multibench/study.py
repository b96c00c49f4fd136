"""The MultiBench study (the paper's Table 1), end to end into a resumable run directory.

``alignlab run multibench RUN_DIR --dataset mosi`` trains, per modality, transformers of every
depth x seed x (lr, wd) (:mod:`alignlab.studies.multibench.jobs`), selects one (lr, wd) per
modality, and for every ordered pair of modalities (a, b) correlates each selected modality-b
model's alignment with modality a's best model against its test performance: Pearson (the
paper's) and Spearman, with percentile bootstrap intervals (``alignlab.stats``, pure
functions of numbers, as the diagnostic uses them). Tables in ``RUN_DIR/tables/``:
``models`` (one row per trained member), ``alignments`` (one row per b-model and pair) and
``table1`` (one row per ordered pair, the paper's value beside ours where one was published).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from alignlab.experiments.registry import Prepared, Study
from alignlab.experiments.runner import RunContext
from alignlab.experiments.spec import stable_hash
from alignlab.experiments.store import RunStore
from alignlab.studies.multibench import jobs as mj
from alignlab.studies.multibench.data import StudyData, from_paired
from alignlab.studies.multibench.spec import MultiBenchStudySpec, paper_value


def prepare(spec: MultiBenchStudySpec, data: Any = None) -> Prepared:
    """Load and check the data before the run directory is touched.

    ``data`` (a ``StudyData``, ``PairedDataset`` or ``AffectiveData``) replaces loading
    ``spec.dataset``; it then travels with the jobs.
    """
    notices: list[str] = []
    if data is None and spec.dataset == "avdigits":
        spec, notices = _resolve_images(spec)
    raw = spec.model_dump(mode="json")
    given = None if data is None else (data if isinstance(data, StudyData) else from_paired(data))
    study = mj.study_data(raw, given)
    data_key = study.fingerprint()
    environment = {"dataset": study.name, "data_fingerprint": data_key}
    if study.sources:
        environment["data_sources"] = study.sources
        if spec.dataset != "avdigits":
            notices.append(f"{study.name}: {_describe_sources(study.sources)}")
    state = {"study": study, "carried": given}
    return Prepared(data_key, environment, tuple(notices), state, spec=spec)


def _resolve_images(spec: MultiBenchStudySpec) -> tuple[MultiBenchStudySpec, list[str]]:
    """avdigits' image source as this installation resolves ``spec.images`` ("auto" becomes
    "mnist" or "sklearn"), and the lines that say which (and how to get MNIST on a fallback)."""
    from alignlab.data.avdigits import AVDigitsConfig, avdigits_image_source

    source = avdigits_image_source(AVDigitsConfig.preset(spec.size, images=spec.images))
    lines = [f"avdigits images: {source.describe()} (spec images: {source.kind})"]
    if source.fallback_note():
        lines.append(source.fallback_note())
    return spec.model_copy(update={"images": source.kind}), lines


def _describe_sources(sources: dict[str, Any]) -> str:
    """``"file mosi_data.pkl, normalization release"``-like phrase of a loader's sources."""
    return ", ".join(f"{k} {v}" for k, v in sources.items() if not isinstance(v, dict | list))


def run(ctx: RunContext, spec: MultiBenchStudySpec, prepared: Prepared) -> dict[str, pd.DataFrame]:
    raw = spec.model_dump(mode="json")
    study, carried = prepared.state["study"], prepared.state["carried"]
    jobs = [
        mj.TrainJob(raw, m, d, prepared.data_key, carried)
        for m in study.modalities
        for d in spec.depths
    ]
    ctx.run_phase("train", jobs, mj.run_train_job, "train transformers")
    models = ctx.rows("train", [j.key for j in jobs])
    models["selected"] = mj.select_hyperparameters(models)
    ctx.write_table("models", models)

    align_jobs = _align_jobs(raw, jobs, models, study.modalities, carried)
    done = ctx.store.done_keys("align")
    loaded = [j if j.key in done else _with_weights(ctx.store, j, jobs, models) for j in align_jobs]
    keys = ctx.run_phase("align", loaded, mj.run_align_job, "align for Table 1")
    alignments = ctx.write_table("alignments", ctx.rows("align", keys))
    table = ctx.write_table("table1", table1(alignments, spec.n_boot))
    return {"models": models, "alignments": alignments, "table1": table}


def _align_jobs(raw, jobs, models, modalities, carried) -> list[mj.AlignJob]:
    """One job per ordered pair; its key hashes the train jobs and the selected members."""
    chosen = models.loc[models["selected"], ["job", "modality", "seed", "lr", "wd"]]
    out = []
    for a in modalities:
        for b in modalities:
            if a == b:
                continue
            ref = mj.reference_row(models, a)
            mine = chosen[chosen["modality"] == b].values.tolist()
            inputs = stable_hash([ref["key"], mine, sorted(j.key for j in jobs)])
            out.append(mj.AlignJob(raw, a, b, inputs, data=carried))
    return out


def _with_weights(store: RunStore, job: mj.AlignJob, jobs, models) -> mj.AlignJob:
    """``job`` with the reference's and the selected b-models' weights read from the store."""
    rows_of = dict(tuple(models.groupby("job", sort=False)))
    ref = mj.reference_row(models, job.modality_a)
    reference = None
    groups = []
    for j in jobs:
        rows = rows_of[j.key].reset_index(drop=True)
        if j.modality == job.modality_a and ref["job"] == j.key:
            tensors = store.job_tensors("train", j.key)
            reference = mj.picked_models(rows, tensors, rows["key"] == ref["key"])
        if j.modality == job.modality_b:
            tensors = store.job_tensors("train", j.key)
            groups.append(mj.picked_models(rows, tensors, rows["selected"]))
    return replace(job, reference=reference, models=groups)


def totals(spec: MultiBenchStudySpec, store: RunStore) -> dict[str, int | None]:
    """Train jobs per modality and depth, align jobs per ordered pair (modalities from the spec,
    else known once the run has planned them)."""
    if spec.modalities is None:
        return {}
    m = len(spec.modalities)
    return {"train": m * len(spec.depths), "align": m * (m - 1)}


def summary(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Table 1 as lines: Pearson r (the paper's statistic) with its interval, per ordered pair."""
    table = tables["table1"]
    dataset = table["dataset"].iloc[0] if len(table) else "?"
    lines = [
        f"Table 1 ({dataset}): Pearson r between alignment with the best model of a and the "
        "test performance of b's models (the paper's statistic), 95% bootstrap interval, the "
        "paper's value beside"
    ]
    for r in table.itertuples():
        value = "undefined" if pd.isna(r.pearson) else f"{r.pearson:+.3f}"
        ci = "" if pd.isna(r.low) else f" [{r.low:+.2f}, {r.high:+.2f}]"
        paper = (
            ""
            if r.paper_value is None or pd.isna(r.paper_value)
            else f"  paper {r.paper_value:+.3f}"
        )
        lines.append(f"  a={r.modality_a:<7} b={r.modality_b:<7} r {value}{ci}  n={r.n}{paper}")
    return lines


def table1(alignments: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """One row per ordered pair: Pearson and Spearman of alignment vs the b-models' test scores
    with 95% percentile bootstrap intervals (seed 0), and the paper's value where published."""
    from alignlab.stats import correlation

    rows = []
    groups = alignments.groupby(["dataset", "modality_a", "modality_b"], sort=False)
    for (dataset, a, b), g in groups:
        p = correlation(g["score"], g["perf_b"], "pearson", n_boot=n_boot)
        s = correlation(g["score"], g["perf_b"], "spearman", n_boot=n_boot)
        rows.append(
            {
                "dataset": dataset,
                "modality_a": a,
                "modality_b": b,
                "column": b,
                "pearson": p.value,
                "low": p.low,
                "high": p.high,
                "spearman": s.value,
                "spearman_low": s.low,
                "spearman_high": s.high,
                "n": p.n,
                "paper_value": paper_value(dataset, a, b),
                "reference_depth": int(g["depth_a"].iloc[0]),
                "reference_seed": int(g["seed_a"].iloc[0]),
                "reference_val": float(g["val_a"].iloc[0]),
                "mean_alignment": float(g["score"].mean()),
                "mean_perf_b": float(g["perf_b"].mean()),
                "undefined_reason": p.reason,
            }
        )
    return pd.DataFrame(rows)


STUDY = Study(
    name="multibench",
    spec_type=MultiBenchStudySpec,
    phases=("train", "align"),
    prepare=prepare,
    run=run,
    totals=totals,
    summary=summary,
    description="Table 1: transformers per modality and depth; alignment vs performance for "
    "every ordered pair of modalities (resumable).",
)
