"""The vision-language study: pretrained vision and language models on perturbed image-caption
pairs, their alignment at every uniqueness level, and the language models' bits-per-byte.

Work, in order, each step skipping what is stored:

1. features: for each model, load it once and extract every level still needed; each
   (model, data, level, perturbation) is cached on disk, keyed by the hash of all of them, in
   ``$ALIGNLAB_CACHE/vl_features/`` (shared between runs), in this process;
2. phase ``align``, one job per level: every (vision, language) pair with mutual kNN (k = 10,
   L2-normalised, clamped at the 0.95 quantile, max over layer pairs, the all-layers
   concatenation included by default, as ``docs/protocol.md`` says);
3. phase ``language``, one job per level: each language model's bits-per-byte;
4. tables ``alignments``, ``language`` and ``models`` in ``RUN_DIR/tables/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from alignlab._device import resolve_device
from alignlab.data.image_text import load_image_text
from alignlab.experiments.packing import null_columns
from alignlab.experiments.registry import Prepared, Study
from alignlab.experiments.runner import RunContext
from alignlab.experiments.seeds import derive_seed
from alignlab.experiments.spec import stable_hash
from alignlab.experiments.store import RunStore
from alignlab.models import pretrained as pm
from alignlab.studies.vl import features as vf
from alignlab.studies.vl.spec import VLStudySpec


def check_device(device: str) -> None:
    """A one-line ValueError for a device name torch does not know or a missing GPU."""
    try:
        dev = resolve_device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device must be cpu, cuda, cuda:N or auto; got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: no CUDA GPU is available here; use cpu or auto")


def _models(spec: VLStudySpec) -> list[tuple[str, str]]:
    return [("vision", n) for n in spec.vision] + [("language", n) for n in spec.language]


def prepare(spec: VLStudySpec) -> Prepared:
    """Load the pairs and find every model offline, before the run directory is touched."""
    check_device(spec.device)
    data = load_image_text(
        spec.data,
        image_column=spec.image_column,
        text_column=spec.text_column,
        caption_index=spec.caption_index,
        on_bad_image=spec.on_bad_image,
        limit=spec.max_pairs,
    )
    if spec.k >= len(data):
        raise ValueError(f"k = {spec.k} must be smaller than the number of pairs, {len(data)}")
    sources = {(kind, name): pm.resolve_model(name) for kind, name in _models(spec)}
    environment = {
        "device": spec.device,
        "batch_size": spec.batch_size,
        "data_fingerprint": data.fingerprint,
        "n_pairs": len(data),
        "skipped_images": list(data.skipped),
    }
    notices = (f"{len(data)} pairs, {len(sources)} models, levels {spec.levels}",)
    return Prepared(data.fingerprint, environment, notices, {"data": data, "sources": sources})


@dataclass(frozen=True)
class LevelJob:
    """Align (phase ``align``) or score (phase ``language``) every model at one level."""

    phase: str
    level: int
    fingerprint: str  # the run's: spec and data
    spec: dict[str, Any] = field(repr=False, compare=False)
    paths: dict = field(repr=False, compare=False)  # (kind, name) -> cached feature file

    @property
    def key(self) -> str:
        return stable_hash([self.phase, self.fingerprint, self.level])

    @property
    def label(self) -> str:
        return f"{self.phase} level {self.level}%"


def run(ctx: RunContext, spec: VLStudySpec, prepared: Prepared) -> dict[str, pd.DataFrame]:
    data, sources = prepared.state["data"], prepared.state["sources"]
    cache = Path(spec.cache_dir).expanduser() if spec.cache_dir else vf.default_cache()
    settings = {"seed": spec.seed, "dtype": spec.dtype, "perturb_size": spec.perturb_size}
    paths = {
        key: vf.feature_paths(key[0], src, data.fingerprint, spec.levels, cache=cache, **settings)
        for key, src in sources.items()
    }
    fingerprint = spec.fingerprint(prepared.data_key)
    raw = spec.model_dump(mode="json")
    jobs = {
        phase: [
            LevelJob(phase, lvl, fingerprint, raw, {k: p[lvl] for k, p in paths.items()})
            for lvl in spec.levels
        ]
        for phase in ("align", "language")
    }
    done = ctx.store.done_keys("align") & ctx.store.done_keys("language")
    todo = [j.level for j in jobs["align"] if j.key not in done]
    extracted = 0
    with vf.progress(ctx.executor.quiet) as bar:
        for key, src in sources.items():
            needed = {lvl: paths[key][lvl] for lvl in todo}
            extracted += vf.extract_missing(
                key[0], src, data, needed, device=spec.device, batch_size=spec.batch_size,
                bar=bar, **settings,
            )  # fmt: skip
    ctx.jobs_run["extract"] = extracted  # (model, level) feature sets extracted now
    tables = {}
    for phase, fn, name in (
        ("align", align_level, "alignments"),
        ("language", score_level, "language"),
    ):
        keys = ctx.run_phase(phase, jobs[phase], fn, f"{phase} per level")
        tables[name] = ctx.write_table(name, ctx.rows(phase, keys))
    models = pd.DataFrame([vf.model_row(k, paths[k, name]) for k, name in _models(spec)])
    tables["models"] = ctx.write_table("models", models)
    return tables


def score_level(job: LevelJob) -> tuple[list[dict], None]:
    """Each language model's bits-per-byte on the captions of one level."""
    spec = job.spec
    rows = []
    for name in spec["language"]:
        tensors = vf.read_features(job.paths["language", name])
        bits, n_bytes = tensors["bits"].numpy(), tensors["n_bytes"].numpy()
        missing = (vf.feature_meta(job.paths["language", name]) or {}).get("unscored", "")
        if missing or not np.isfinite(bits).all():
            missing = missing or "some captions have no finite bits"
        rows.append(
            {
                "key": stable_hash([job.key, name]),
                "job": job.key,
                "study": "vl",
                "language": name,
                "level": job.level,
                "bpb_mean": np.nan if missing else pm.bits_per_byte(bits, n_bytes, "mean"),
                "bpb_pooled": np.nan if missing else pm.bits_per_byte(bits, n_bytes, "pooled"),
                "bpb_missing": missing,  # why bits-per-byte is NaN ("" when it is not)
                "bits": np.nan if missing else float(bits.sum()),
                "bytes": int(n_bytes.sum()),
                "n_captions": len(bits),
                "n_empty": int((n_bytes == 0).sum()),
            }
        )
    return rows, None


def align_level(job: LevelJob) -> tuple[list[dict], None]:
    """Every (vision, language) pair at one level: mutual kNN, max over layer pairs."""
    from alignlab.metrics import align_layers

    torch.set_num_threads(1)
    spec = job.spec
    vision = {n: vf.read_features(job.paths["vision", n])["features"] for n in spec["vision"]}
    rows = []
    for lname in spec["language"]:
        language = vf.read_features(job.paths["language", lname])["features"]
        for vname, vfeat in vision.items():
            res = align_layers(
                vfeat,
                language,
                "mutual_knn",
                normalize=spec["normalize"],
                clamp_q=spec["clamp_q"],
                include_concat=spec["include_concat"],
                device=spec["device"],
                null_permutations=spec["null_permutations"],
                null_mode="raw",
                seed=derive_seed("null", job.key),
                k=spec["k"],
            )
            i, j = res.best_pair
            rows.append(
                {
                    "key": stable_hash([job.key, vname, lname]),
                    "job": job.key,
                    "study": "vl",
                    "vision": vname,
                    "language": lname,
                    "modality_a": "vision",
                    "modality_b": "language",
                    "level": job.level,
                    "metric": "mutual_knn",
                    "k": spec["k"],
                    "score": res.best,
                    **null_columns(res.layer_max),
                    "layer_a": res.labels_a[i],
                    "layer_b": res.labels_b[j],
                    "n": res.n_samples,
                    "matrix": res.matrix.tolist(),
                }
            )
    return rows, None


def totals(spec: VLStudySpec, store: RunStore) -> dict[str, int | None]:
    return {"align": len(spec.levels), "language": len(spec.levels)}


def summary(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Per level: the best alignment of each vision model over language models, and the mean
    bits-per-byte of the language models (mean of per-caption values)."""
    best = tables["alignments"].groupby(["level", "vision"])["score"].max().unstack()
    bpb = tables["language"].groupby("level")["bpb_mean"].mean()
    lines = [
        "per level (% perturbed): best mutual kNN over language models per vision model; "
        "mean bits-per-byte of the language models"
    ]
    for level in best.index:
        cells = "  ".join(f"{Path(v).name} {best.loc[level, v]:.3f}" for v in best.columns)
        value = bpb.get(level, float("nan"))
        lines.append(f"  {level:>3}%  {cells}  bpb " + ("-" if pd.isna(value) else f"{value:.3f}"))
    language = tables["language"]
    if "bpb_missing" in language:
        why = language.loc[language["bpb_missing"].fillna("") != "", ["language", "bpb_missing"]]
        for name, reason in why.drop_duplicates("language").itertuples(index=False):
            lines.append(f"  no bits-per-byte for {Path(name).name}: {reason}")
    return lines


STUDY = Study(
    name="vl",
    spec_type=VLStudySpec,
    phases=("align", "language"),
    prepare=prepare,
    run=run,
    totals=totals,
    summary=summary,
    description="Align pretrained vision and language models on perturbed image-caption pairs "
    "(offline).",
)
