"""Input validation at the edge of ``train_population``: clear errors before any training."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from alignlab.models.population_mlp import PopulationMLP


def check_split(
    name: str, x: Tensor, y: Tensor, model: PopulationMLP, task: str
) -> tuple[Tensor, Tensor]:
    """Validate one split against the model and task; return (float32 x, y).

    y is int64 for classification and float32 for regression.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.dim() != 2:
        raise ValueError(
            f"{name} x must have shape (n_samples, {model.in_features}), got {tuple(x.shape)}"
        )
    if x.shape[1] != model.in_features:
        raise ValueError(
            f"{name} x has {x.shape[1]} features but the model expects "
            f"in_features={model.in_features}; build the PopulationMLP with "
            f"in_features={x.shape[1]} or pass the matching modality"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} split is empty; it needs at least one sample")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"{name} y must have shape ({x.shape[0]},), one target per row of x, "
            f"got {tuple(y.shape)}"
        )
    if x.is_complex():
        raise ValueError(f"{name} x must be real-valued, got dtype {x.dtype}")
    x = x.to(torch.float32)
    n_bad = int((~torch.isfinite(x)).sum())
    if n_bad:
        raise ValueError(
            f"{name} x contains {n_bad} NaN or Inf values; clean or impute the inputs "
            "before training"
        )
    if task == "classification":
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ValueError(
                f"{name} y must hold integer class labels for task='classification', "
                f"got dtype {y.dtype}"
            )
        y = y.to(torch.long)
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= model.out_features:
            raise ValueError(
                f"{name} labels must lie in [0, {model.out_features}) for a model with "
                f"out_features={model.out_features}, got values from {lo} to {hi}; remap "
                "the labels to 0..n_classes-1 or build the model with more outputs"
            )
    else:
        if model.out_features != 1:
            raise ValueError(
                f"task='regression' needs a model with out_features=1, got "
                f"out_features={model.out_features}"
            )
        y = y.to(torch.float32)
        n_bad = int((~torch.isfinite(y)).sum())
        if n_bad:
            raise ValueError(f"{name} y contains {n_bad} NaN or Inf targets; drop those samples")
    return x, y


def check_hyperparameters(
    lrs: Tensor | Sequence[float], wds: Tensor | Sequence[float], n_members: int
) -> tuple[Tensor, Tensor]:
    """Validate per-member learning rates and weight decays; return them as float64 (P,)."""
    out = []
    for name, values, what in (
        ("lrs", lrs, "learning rate"),
        ("wds", wds, "weight decay"),
    ):
        t = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
        if t.shape != (n_members,):
            raise ValueError(
                f"{name} must have shape ({n_members},), one {what} per member, "
                f"got {tuple(t.shape)}"
            )
        out.append(t)
    lrs_t, wds_t = out
    bad = (~torch.isfinite(lrs_t)) | (lrs_t <= 0)
    if bad.any():
        idx = bad.nonzero().flatten().tolist()
        raise ValueError(
            f"learning rates must be positive and finite, got {lrs_t[bad].tolist()} for "
            f"member(s) {idx}"
        )
    bad = (~torch.isfinite(wds_t)) | (wds_t < 0)
    if bad.any():
        idx = bad.nonzero().flatten().tolist()
        raise ValueError(
            f"weight decays must be non-negative and finite, got {wds_t[bad].tolist()} for "
            f"member(s) {idx}"
        )
    return lrs_t, wds_t


def check_groups(
    train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor], groups, n_members: int
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], Tensor]:
    """Validate member datasets (``train_population(..., groups=...)``): G datasets per split,
    x (G, n, d) and y (G, n), one group index in [0, G) per member.

    Returns both splits flattened to (G * n, d) and (G * n,), for :func:`check_split`, and the
    groups as int64 (P,).
    """
    out = []
    for name, (x, y) in (("train", train), ("val", val)):
        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.dim() != 3 or y.shape != x.shape[:2]:
            raise ValueError(
                f"with groups, {name} must hold G datasets of equal size: x of shape "
                f"(G, n, in_features) and y of shape (G, n), got {tuple(x.shape)} and "
                f"{tuple(y.shape)}"
            )
        out.append((x.reshape(-1, x.shape[-1]), y.reshape(-1)))
    n_groups = torch.as_tensor(train[0]).shape[0]
    if torch.as_tensor(val[0]).shape[0] != n_groups:
        raise ValueError("train and val must hold the same number of datasets (G)")
    g = torch.as_tensor(list(groups), dtype=torch.long)
    if g.shape != (n_members,) or bool(((g < 0) | (g >= n_groups)).any()):
        raise ValueError(
            f"groups must give each of the {n_members} members a dataset index in "
            f"[0, {n_groups}), got {g.tolist()}"
        )
    return out[0], out[1], g
