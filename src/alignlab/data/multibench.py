"""MultiBench's affective datasets (MOSI, MOSEI, UR-FUNNY, MUStARD) from the user's pickles.

Files as released: a pickle ``{'train', 'valid', 'test'}``, each split a dict with ``'vision'``,
``'audio'``, ``'text'`` arrays (N, T, F), each modality left-padded with zeros on its own to 50
steps, ``'labels'`` and ``'id'`` (ignored). Feature sizes (vision / audio / text) tell the
release layouts apart (:data:`AFFECTIVE`): MOSI is ``mosi_data.pkl`` (20 / 5 / 300, the paper's
file) or ``mosi_raw.pkl`` (35 / 74 / 300, FACET 4.2 and COVAREP); MOSEI ``mosei_senti_data.pkl``
(35 / 74 / 300); UR-FUNNY ``humor.pkl`` and MUStARD ``sarcasm.pkl`` (371 / 81 / 300). The
layout found and the file read are kept in :class:`AffectiveData` (``layout``, ``source``).

Preprocessing, in order:

1. Audio ``-inf`` becomes 0. Any other NaN or infinity is an error (it would be silent
   corruption).
2. Samples with no text are dropped: every text feature is zero at every step (MultiBench's
   ``drop_entry``).
3. As MultiBench's aligned loader does, each sample's real sequence starts at the first step
   where any *text* feature is non-zero, and all three modalities are cropped from that step.
   The first ``seq_len`` (50) steps from there are kept, moved to the front and zero-padded at
   the end; ``mask`` is True on the kept steps and is shared by the three modalities.
4. Vision and audio are z-scored per feature with training statistics (:data:`NORMALIZATIONS`);
   text (GloVe) is left as is; padding stays 0. ``"release"`` (default) reproduces the paper's
   release: mean and std over every stored training sample (those dropped in step 2 included)
   and its first ``seq_len`` stored steps, left padding included, no floor on the std.
   ``"real_steps"`` uses only the real steps kept in step 3.
5. Labels: (N,), (N, 1), (N, 1, 1) or (N, 1, k), of which the first value is used (as in
   MultiBench). MUStARD and UR-FUNNY are 2-class classification: booleans or integers in
   {0, 1} or {-1, 1} (-1 becomes class 0). MOSI and MOSEI are regression on the sentiment
   score (float32).

:func:`load_affective_all` prepares all three modalities once; :meth:`AffectiveData.pair` (or
:func:`load_affective`) gives the :class:`PairedDataset` of any two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alignlab.data._multibench_io import check_split, find_file, read_pickle
from alignlab.data._sequences import (
    STD_FLOOR,
    apply_zscore,
    crop_and_pad,
    first_real_step,
    masked_stats,
)
from alignlab.data.paired import PairedDataset, Split, Task

MODALITIES = ("vision", "audio", "text")
SEQ_LEN = 50  # protocol: pad or cut every sequence to 50 steps
SPLIT_KEYS = {"train": "train", "val": "valid", "test": "test"}  # ours -> the pickle's


@dataclass(frozen=True)
class AffectiveLayout:
    """One released file: its MultiBench name and its feature size per modality."""

    file: str
    features: dict[str, int]
    note: str = ""

    def describe(self) -> str:
        sizes = " / ".join(str(self.features[m]) for m in MODALITIES)
        return f"{self.file} ({sizes}{', ' + self.note if self.note else ''})"


@dataclass(frozen=True)
class AffectiveSpec:
    """What one affective dataset's pickle may hold: its released layouts, preferred first."""

    layouts: tuple[AffectiveLayout, ...]
    task: Task

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(layout.file for layout in self.layouts)

    @property
    def file(self) -> str:  # the preferred (the paper's) file
        return self.layouts[0].file

    @property
    def features(self) -> dict[str, int]:
        return self.layouts[0].features


def _sizes(vision: int, audio: int, text: int) -> dict[str, int]:
    return {"vision": vision, "audio": audio, "text": text}


AFFECTIVE: dict[str, AffectiveSpec] = {
    "mosi": AffectiveSpec(
        (
            AffectiveLayout("mosi_data.pkl", _sizes(20, 5, 300), "the paper's file"),
            AffectiveLayout("mosi_raw.pkl", _sizes(35, 74, 300), "FACET 4.2 and COVAREP"),
        ),
        "regression",
    ),
    "mosei": AffectiveSpec(
        (AffectiveLayout("mosei_senti_data.pkl", _sizes(35, 74, 300)),), "regression"
    ),
    "urfunny": AffectiveSpec(
        (AffectiveLayout("humor.pkl", _sizes(371, 81, 300)),), "classification"
    ),
    "mustard": AffectiveSpec(
        (AffectiveLayout("sarcasm.pkl", _sizes(371, 81, 300)),), "classification"
    ),
}
NORMALIZATIONS = {
    "release": "the paper's release: mean and std over every stored training sample and its "
    "first seq_len stored steps, left padding included, no floor on the std",
    "real_steps": "mean and std over the training split's real steps kept after cropping, "
    f"padding excluded; a std below {STD_FLOOR} only centres its feature",
}
ALIASES = {"ur-funny": "urfunny", "ur_funny": "urfunny", "humor": "urfunny", "sarcasm": "mustard"}


def canonical_name(name: str) -> str:
    """The dataset's key in :data:`AFFECTIVE`, accepting aliases and any case.

    >>> canonical_name("UR-FUNNY"), canonical_name("MUStARD")
    ('urfunny', 'mustard')
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key not in AFFECTIVE:
        raise ValueError(
            f"unknown affective dataset {name!r}; expected one of {sorted(AFFECTIVE)} "
            "(aliases: ur-funny, humor, sarcasm)"
        )
    return key


@dataclass(frozen=True)
class AffectiveData:
    """All three prepared modalities of one affective dataset.

    Attributes
    ----------
    name : str
    task : "classification" or "regression"
    splits : dict "train" / "val" / "test" -> dict of tensors
        ``vision``, ``audio``, ``text``: float32 (n, seq_len, F); ``mask``: bool (n, seq_len);
        ``y``: int64 (n,) for classification, float32 (n,) for regression.
    dropped : dict split -> int
        Samples removed for having no text.
    source : Path
        The file read.
    layout : str
        The released file whose feature sizes it has (``"mosi_data.pkl"``, ...); "" for other
        feature sets (``check_features=False``).
    normalization : "release" or "real_steps" (:data:`NORMALIZATIONS`)
    """

    name: str
    task: Task
    splits: dict[str, dict[str, torch.Tensor]]
    dropped: dict[str, int]
    source: Path
    layout: str = ""
    normalization: str = "release"

    def metadata(self) -> dict[str, Any]:
        """What a run records about the data: file, layout, feature sizes, normalisation."""
        return {
            "dataset": self.name,
            "source": str(self.source),
            "layout": self.layout or "other (check_features=False)",
            "features": {m: int(self.splits["train"][m].shape[2]) for m in MODALITIES},
            "normalization": self.normalization,
            "dropped_no_text": dict(self.dropped),
        }

    def pair(self, a: str, b: str) -> PairedDataset:
        """The :class:`PairedDataset` of modalities ``a`` (x1) and ``b`` (x2)."""
        for m in (a, b):
            if m not in MODALITIES:
                raise ValueError(f"modality must be one of {MODALITIES}, got {m!r}")
        if a == b:
            raise ValueError(f"a pair needs two different modalities, got {a!r} twice")
        parts = {
            s: Split(x1=d[a], x2=d[b], y=d["y"], mask1=d["mask"], mask2=d["mask"])
            for s, d in self.splits.items()
        }
        n_classes = 2 if self.task == "classification" else None
        return PairedDataset(
            **parts, task=self.task, n_classes=n_classes, modalities=(a, b), name=self.name
        )


def load_affective_all(
    name: str,
    path: str | Path | None = None,
    *,
    seq_len: int = SEQ_LEN,
    check_features: bool = True,
    normalization: str = "release",
) -> AffectiveData:
    """Read, validate and prepare an affective pickle (see the module docstring for the rules).

    Parameters
    ----------
    name : "mosi", "mosei", "urfunny" or "mustard" (aliases "ur-funny", "humor", "sarcasm")
    path : the pickle (any name), or the folder holding it under a MultiBench file name (MOSI:
        ``mosi_data.pkl``, else ``mosi_raw.pkl``); None looks in ``$ALIGNLAB_MULTIBENCH_DIR``
    seq_len : steps kept per sample (protocol: 50)
    check_features : refuse feature sizes of no released file (False for other releases)
    normalization : "release" (the paper's statistics) or "real_steps" (:data:`NORMALIZATIONS`)

    Returns
    -------
    AffectiveData, every modality of shape (n, seq_len, F) with one shared mask (n, seq_len),
    naming the file read and its layout.

    Raises
    ------
    FileNotFoundError naming the file and where it was looked for; ValueError for a missing key,
    mismatched sample or step counts, wrong ranks or feature sizes, non-finite values or labels
    that do not fit the task, before anything is trained.
    """
    key = canonical_name(name)
    file = find_file(AFFECTIVE[key].files, path, key)
    return prepare_affective(
        key,
        read_pickle(file),
        seq_len=seq_len,
        check_features=check_features,
        normalization=normalization,
        source=file,
    )


def load_affective(
    name: str,
    path: str | Path | None = None,
    modalities: tuple[str, str] = ("text", "audio"),
    **kwargs: Any,
) -> PairedDataset:
    """The :class:`PairedDataset` of two modalities of an affective dataset.

    Same arguments as :func:`load_affective_all` plus ``modalities``: any two of "vision",
    "audio", "text", as (x1, x2). Per split ``x1`` (n, seq_len, F1), ``x2`` (n, seq_len, F2),
    ``mask1`` = ``mask2`` (n, seq_len) and ``y`` (n,).
    """
    return load_affective_all(name, path, **kwargs).pair(*modalities)


def _layout(spec: AffectiveSpec, sizes: dict[str, int], where: str, check: bool) -> str:
    """The released file whose feature sizes are ``sizes``, or a ValueError (``check``)."""
    for layout in spec.layouts:
        if layout.features == sizes:
            return layout.file
    if not check:
        return ""
    near = min(spec.layouts, key=lambda lay: sum(lay.features[m] != sizes[m] for m in sizes))
    wrong = ", ".join(
        f"{m} has {sizes[m]} features, expected {near.features[m]}"
        for m in MODALITIES
        if sizes[m] != near.features[m]
    )
    known = " or ".join(layout.describe() for layout in spec.layouts)
    raise ValueError(
        f"{where}: {wrong} for {near.file}; the released files hold vision / audio / text "
        f"{known}; is this the right file? (check_features=False accepts other feature sets)"
    )


def prepare_affective(
    name: str,
    raw: Any,
    *,
    seq_len: int = SEQ_LEN,
    check_features: bool = True,
    normalization: str = "release",
    source: Path | str = "<memory>",
) -> AffectiveData:
    """Validate and prepare an already-loaded affective dict (the work of
    :func:`load_affective_all` after reading the file).

    >>> rng = np.random.default_rng(0)
    >>> def part(n):
    ...     x = {m: rng.normal(size=(n, 50, f)) for m, f in AFFECTIVE["mosi"].features.items()}
    ...     return {**x, "labels": rng.uniform(-3, 3, (n, 1, 1)), "id": np.arange(n)}
    >>> data = prepare_affective("mosi", {"train": part(8), "valid": part(3), "test": part(3)})
    >>> data.pair("vision", "text").train.x2.shape, data.task, data.layout
    (torch.Size([8, 50, 300]), 'regression', 'mosi_data.pkl')
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {sorted(NORMALIZATIONS)}, got {normalization!r}: "
            + "; ".join(f"{k!r}: {v}" for k, v in NORMALIZATIONS.items())
        )
    key = canonical_name(name)
    spec, where = AFFECTIVE[key], f"{key} data from {source}"
    if not isinstance(raw, dict):
        raise ValueError(
            f"{where} is a {type(raw).__name__}, not a dict of splits 'train', 'valid', 'test'"
        )
    checked = {s: check_split(raw, k, MODALITIES, spec.task, where) for s, k in SPLIT_KEYS.items()}
    feats = {m: {checked[s][m].shape[2] for s in checked} for m in MODALITIES}
    for m, sizes in feats.items():
        if len(sizes) > 1:
            raise ValueError(
                f"{where}: {m} has different feature sizes across splits: {sorted(sizes)}"
            )
    layout = _layout(spec, {m: feats[m].pop() for m in MODALITIES}, where, check_features)
    stats = {}
    if normalization == "release":  # every stored training sample, its first seq_len steps
        for m in ("vision", "audio"):
            stats[m] = masked_stats(checked["train"][m][:, :seq_len], None, floor=0.0)
    splits, dropped = {}, {}
    for s, arrays in checked.items():
        has_text = (arrays["text"] != 0).any(axis=(1, 2))  # (N,) False = no text: dropped
        dropped[s] = int((~has_text).sum())
        if not has_text.any():
            raise ValueError(f"{where}: every sample of split {SPLIT_KEYS[s]!r} has no text")
        start = first_real_step(arrays["text"][has_text])
        cropped = {}
        for m in MODALITIES:
            cropped[m], mask = crop_and_pad(arrays[m][has_text], start, seq_len)
        splits[s] = {**cropped, "mask": mask, "y": arrays["y"][has_text]}
    for m in ("vision", "audio"):
        if normalization == "real_steps":
            stats[m] = masked_stats(splits["train"][m], splits["train"]["mask"])
        for d in splits.values():
            d[m] = apply_zscore(d[m], d["mask"], *stats[m])
    tensors = {
        s: {
            **{
                m: torch.from_numpy(np.ascontiguousarray(d[m], dtype=np.float32))
                for m in MODALITIES
            },
            "mask": torch.from_numpy(d["mask"]),
            "y": torch.from_numpy(d["y"]),
        }
        for s, d in splits.items()
    }
    return AffectiveData(
        name=key,
        task=spec.task,
        splits=tensors,
        dropped=dropped,
        source=Path(source),
        layout=layout,
        normalization=normalization,
    )
