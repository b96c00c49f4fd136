"""The data of the MultiBench study: every modality of one dataset, loaded and checked.

A :class:`StudyData` holds, per split, one (x, mask, y) per modality: x float32 (n, T, F), mask
bool (n, T) True at real positions (None: no padding) and one label vector y shared by all
modalities. It comes from a dataset name (the loaders of :mod:`alignlab.data`) or from a
:class:`~alignlab.data.PairedDataset` / :class:`~alignlab.data.multibench.AffectiveData` the
caller built. :func:`check_study_data` refuses bad input with a message naming the fault, before
anything is trained.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

SPLITS = ("train", "val", "test")
AFFECTIVE = ("mosi", "mosei", "urfunny", "mustard")
DATASETS = (*AFFECTIVE, "avmnist", "avdigits")
IMAGE_MODALITIES = ("image",)  # modalities whose encoder is a ViT over patch tokens

SequenceData = tuple[Tensor, Tensor | None, Tensor]  # x (n, T, F), mask (n, T) | None, y (n,)


@dataclass(frozen=True)
class StudyData:
    """Every modality of one dataset, split, as sequences.

    Attributes
    ----------
    name : str
        Dataset name used in tables (``mosi``, ``avdigits``, ...).
    task : "classification" or "regression"
    n_classes : int or None
    splits : dict split -> dict
        ``splits[s][m]`` is ``(x, mask, y)`` of modality ``m`` in split ``s`` ("train", "val",
        "test"); y is the same tensor for every modality.
    sources : dict
        What the loader used where it could vary: the released file and normalisation of the
        affective datasets, avdigits' image source (recorded with the run).
    """

    name: str
    task: str
    n_classes: int | None
    splits: dict[str, dict[str, SequenceData]]
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.splits["train"])

    def modality(self, m: str) -> dict[str, SequenceData]:
        """``split -> (x, mask, y)`` of modality ``m``."""
        if m not in self.modalities:
            raise ValueError(f"{self.name} has modalities {list(self.modalities)}, not {m!r}")
        return {s: self.splits[s][m] for s in SPLITS}

    def restrict(self, modalities: list[str] | None, n_train: int | None) -> StudyData:
        """Only ``modalities`` (None: all) and the first ``n_train`` training samples."""
        keep = list(self.modalities) if modalities is None else modalities
        for m in keep:
            self.modality(m)  # names the modalities that exist
        splits = {}
        for s in SPLITS:
            cut = n_train if s == "train" else None
            splits[s] = {
                m: tuple(None if t is None else t[:cut] for t in self.splits[s][m]) for m in keep
            }
        return StudyData(self.name, self.task, self.n_classes, splits, dict(self.sources))

    def fingerprint(self) -> str:
        """SHA-256 of every tensor's shape, dtype and bytes, and of the task (16 hex)."""
        h = hashlib.sha256(json.dumps([self.name, self.task, self.n_classes]).encode())
        for s in SPLITS:
            for m, tensors in self.splits[s].items():
                for t in tensors:
                    h.update(
                        f"|{s}|{m}|{None if t is None else (tuple(t.shape), t.dtype)}".encode()
                    )
                    if t is not None:
                        h.update(np.ascontiguousarray(t.detach().cpu().numpy()))
        return h.hexdigest()[:16]


def from_paired(data: Any) -> StudyData:
    """A :class:`StudyData` from a ``PairedDataset`` (two modalities) or an ``AffectiveData``
    (all three), as the loaders return them."""
    if hasattr(data, "pair") and hasattr(data, "splits"):  # AffectiveData
        splits = {
            s: {m: (d[m], d["mask"], d["y"]) for m in ("vision", "audio", "text")}
            for s, d in data.splits.items()
        }
        n_classes = 2 if data.task == "classification" else None
        return StudyData(data.name, data.task, n_classes, splits, dict(data.metadata()))
    if not all(hasattr(data, a) for a in ("train", "val", "test", "modalities", "task")):
        raise ValueError(
            f"data must be a PairedDataset, an AffectiveData or a StudyData, got "
            f"{type(data).__name__}"
        )
    a, b = data.modalities
    if a == b:
        raise ValueError(f"the two modalities need different names, got {a!r} twice")
    splits = {}
    for s in SPLITS:
        split = data.split(s)
        splits[s] = {a: (split.x1, split.mask1, split.y), b: (split.x2, split.mask2, split.y)}
    sources = dict(getattr(data, "sources", None) or {})
    return StudyData(data.name, data.task, data.n_classes, splits, sources)


def load_dataset(
    name: str,
    path: str | None,
    size: str = "full",
    images: str = "auto",
    normalization: str = "release",
) -> StudyData:
    """Load dataset ``name`` with its loader: the affective pickles (z-scored as
    ``normalization`` says), the AVMNIST folder, or avdigits (``path`` is then its cache
    folder, ``size`` "ci" or "full" and ``images`` its image source)."""
    if name in AFFECTIVE:
        from alignlab.data.multibench import load_affective_all

        return from_paired(load_affective_all(name, path, normalization=normalization))
    if name == "avmnist":
        from alignlab.data.avmnist import load_avmnist

        return from_paired(load_avmnist(path))
    if name == "avdigits":
        from alignlab.data.avdigits import AVDigitsConfig, build_avdigits

        config = AVDigitsConfig.preset(size, images=images)
        return from_paired(build_avdigits(config, path, workers=1))
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def check_study_data(data: StudyData) -> None:
    """Refuse data the study cannot train on, naming the split, modality and fault.

    Checks: at least two modalities; every x float (n, T, F) with the same T and F in every
    split and finite values; masks bool (n, T) or None; sample counts that agree between the
    modalities and the labels; labels that fit the task (integer classes in
    [0, n_classes) for classification, float targets for regression).

    >>> x, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    >>> splits = {s: {"a": (x, None, y), "b": (x, None, y)} for s in SPLITS}
    >>> check_study_data(StudyData("toy", "classification", 2, splits))
    Traceback (most recent call last):
    ...
    ValueError: toy train a: x must be a sequence batch of shape (n, T, F), got (4, 3)
    """
    if data.task not in ("classification", "regression"):
        raise ValueError(f"{data.name}: task must be classification or regression, not {data.task}")
    if len(data.modalities) < 2:
        raise ValueError(
            f"{data.name} has {len(data.modalities)} modality; the study needs at least two"
        )
    if data.task == "classification" and (data.n_classes is None or data.n_classes < 2):
        raise ValueError(f"{data.name}: classification needs n_classes >= 2, got {data.n_classes}")
    for m in data.modalities:
        sizes = set()
        for s in SPLITS:
            x, mask, y = data.splits[s][m]
            where = f"{data.name} {s} {m}"
            if x.dim() != 3:
                raise ValueError(
                    f"{where}: x must be a sequence batch of shape (n, T, F), got {tuple(x.shape)}"
                )
            if not x.is_floating_point() or not torch.isfinite(x).all():
                raise ValueError(f"{where}: x must be finite floats, got {x.dtype} with NaN/inf")
            sizes.add(tuple(x.shape[1:]))
            if x.shape[0] != y.shape[0] or x.shape[0] == 0:
                raise ValueError(
                    f"{where}: {x.shape[0]} samples but {y.shape[0]} labels; every modality "
                    "must hold the same samples as the labels, at least one"
                )
            if mask is not None and (mask.dtype != torch.bool or mask.shape != x.shape[:2]):
                raise ValueError(
                    f"{where}: mask must be bool of shape {tuple(x.shape[:2])}, got {mask.dtype} "
                    f"{tuple(mask.shape)}"
                )
            _check_labels(y, data, s)
        if len(sizes) > 1:
            raise ValueError(
                f"{data.name} {m}: (T, F) differs between splits: {sorted(sizes)}; pad every "
                "split to one length"
            )


def _check_labels(y: Tensor, data: StudyData, split: str) -> None:
    where = f"{data.name} {split} labels"
    if y.dim() != 1:
        raise ValueError(f"{where} must have shape (n,), got {tuple(y.shape)}")
    if data.task == "classification":
        if y.is_floating_point() or y.dtype == torch.bool:
            raise ValueError(
                f"{where} are {y.dtype}, but a classification task needs integer class labels; "
                "for real-valued targets use task='regression'"
            )
        if int(y.min()) < 0 or int(y.max()) >= data.n_classes:
            raise ValueError(
                f"{where} must lie in [0, {data.n_classes}), got {int(y.min())} to {int(y.max())}"
            )
    elif not y.is_floating_point() or not torch.isfinite(y).all():
        raise ValueError(
            f"{where} are {y.dtype}, but a regression task needs finite float targets; for "
            "class labels use task='classification'"
        )
