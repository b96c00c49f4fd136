"""Features of pretrained models on perturbed image-caption pairs, cached on disk.

One safetensors file per (model, data, level, perturbation), named by the hash of all that
determines it: the model's identity (name, Hub revision, a hash of its folder's files), the
weights' dtype, the data's content fingerprint, the level, the seed and, for images, the
resolution the perturbation works at. The cache (``$ALIGNLAB_CACHE/vl_features/`` by default)
is shared between runs: a second study over the same models and data extracts nothing.
Files are written atomically; an unreadable one counts as absent and is extracted again.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import torch

from alignlab.data._cache import cache_root, load_tensors, save_tensors
from alignlab.data.image_text import ImageTextPairs
from alignlab.data.perturb import PerturbedImages, perturb_captions
from alignlab.experiments.spec import stable_hash
from alignlab.models import pretrained as pm

FEATURE_FORMAT = 1  # bump when the meaning of cached features changes
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def progress(quiet: bool):
    """A rich progress display for feature extraction (disabled when ``quiet``)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), disable=quiet)


def default_cache() -> Path:
    """``$ALIGNLAB_CACHE/vl_features`` (``~/.cache/alignlab/vl_features`` by default)."""
    return cache_root() / "vl_features"


def feature_paths(
    kind: str,
    source: pm.ModelSource,
    data_fingerprint: str,
    levels: list[int],
    *,
    seed: int,
    dtype: str,
    perturb_size: int | None,
    cache: Path,
) -> dict[int, Path]:
    """The cache file of ``source``'s features at each level."""
    base = {
        "format": FEATURE_FORMAT,
        "kind": kind,
        "model": source.identity(),
        "dtype": dtype,
        "data": data_fingerprint,
        "seed": seed,
        "perturb_size": perturb_size if kind == "vision" else None,
    }
    return {
        lvl: cache / f"{kind}-{stable_hash(base | {'level': lvl})}.safetensors" for lvl in levels
    }


def feature_meta(path: Path) -> dict[str, Any] | None:
    """The metadata of a cached feature file (its header only), or None if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("alignlab", "null"))
    except Exception:  # missing, truncated or foreign: treat as absent
        return None
    return meta if isinstance(meta, dict) else None


def read_features(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a cached feature file: ``features`` (n, layers, d), and for language
    models ``bits``, ``n_bytes``, ``n_predicted`` (n,)."""
    found = load_tensors(path)
    if found is None:
        raise FileNotFoundError(f"cached features {path} are missing or unreadable; run again")
    return found[0]


def extract_missing(
    kind: str,
    source: pm.ModelSource,
    data: ImageTextPairs,
    paths: dict[int, Path],
    *,
    seed: int,
    dtype: str,
    perturb_size: int | None,
    device: str,
    batch_size: int,
    bar: Any,
) -> int:
    """Load the model once and extract every level of ``paths`` that is not cached yet.

    ``bar`` is a :class:`rich.progress.Progress`. Returns the number of levels extracted.
    """
    missing = [lvl for lvl, path in paths.items() if feature_meta(path) is None]
    if not missing:
        return 0
    short = Path(source.name).name
    task = bar.add_task(f"{kind} {short}: loading", total=len(missing) * len(data))
    loader = pm.load_vision_model if kind == "vision" else pm.load_language_model
    model = loader(source, device=device, dtype=DTYPES[dtype])
    meta = {
        "kind": kind,
        "name": source.name,
        "path": str(source.path),
        "revision": source.revision,
        "n_params": pm.n_parameters(model.model),
        "class": type(model.model).__name__,
    }
    for lvl in missing:
        bar.update(task, description=f"{kind} {short} p={lvl}%")

        def advance(n: int) -> None:
            bar.advance(task, n)

        if kind == "vision":
            images = PerturbedImages(data.images, data.ids, lvl, seed, perturb_size)
            tensors = {"features": pm.vision_features(model, images, batch_size, advance)}
            meta["processor"] = type(model.processor).__name__
        else:
            captions = perturb_captions(data.captions, data.ids, lvl, seed)
            # a model that cannot score text (an encoder, a missing head) still gives features
            lf = pm.language_features(model, captions, batch_size, advance, score=model.can_score)
            meta["unscored"] = lf.unscored  # why bits are missing; "" when they are not
            tensors = {
                "features": lf.layers,
                "bits": torch.from_numpy(lf.bits),
                "n_bytes": torch.from_numpy(lf.n_bytes),
                "n_predicted": torch.from_numpy(lf.n_predicted),
            }
        shape = list(tensors["features"].shape)
        save_tensors(paths[lvl], tensors, meta | {"level": lvl, "shape": shape})
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return len(missing)


def model_row(kind: str, paths: dict[int, Path]) -> dict[str, Any]:
    """What the cache records about a model: name, path, revision, class, parameters, layers,
    width (from its first readable level file)."""
    for path in paths.values():
        meta = feature_meta(path)
        if meta is not None:
            shape = meta.pop("shape", [None, None, None])
            meta.pop("level", None)
            return meta | {"kind": kind, "n_layers": shape[1], "width": shape[2]}
    return {"kind": kind}
