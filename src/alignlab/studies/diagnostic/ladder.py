"""Encoder ladders of the diagnostic: train the members of one depth, return a population.

The diagnostic needs, per modality and depth, P trained members with best-validation weights
that can score a split and return every layer's features. Anything satisfying
:class:`EncoderLadder` can supply them; :func:`ladder_for` picks one by input shape:

- flat inputs (n, d): :func:`mlp_ladder`, a :class:`~alignlab.models.PopulationMLP`
  trained with :func:`~alignlab.train.train_population`;
- sequence inputs (n, T, F): :func:`alignlab.train.sequence.transformer_ladder`, a
  :class:`~alignlab.models.PopulationTransformer` (one head, embedding = F, pooled token per
  layer, as docs/protocol.md's MultiBench encoders), trained at ``sequence_lrs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from torch import Tensor


class TrainedPopulation(Protocol):
    """What one rung of a ladder returns: P trained members (best-validation weights)."""

    best_val_score: Tensor  # (P,), NaN for a member that diverged before validating

    def evaluate(self, x: Tensor, y: Tensor) -> Tensor:
        """Score of every member on ``(x, y)``: (P,) in [0, 1], larger is better."""
        ...

    def features(self, x: Tensor) -> list[Tensor]:
        """Every layer's features of ``x``: ``depth`` tensors of shape (P, n, width)."""
        ...


class EncoderLadder(Protocol):
    """Train the P members of one depth: ``seeds``, ``lrs`` and ``wds`` have length P.

    ``train`` and ``val`` are ``(x, y)`` with x float32 (n, d) or (n, T, F) and y int64
    labels in [0, n_outputs) or float targets; ``width`` None lets the ladder choose.
    """

    def __call__(
        self,
        train: tuple[Tensor, Tensor],
        val: tuple[Tensor, Tensor],
        *,
        depth: int,
        seeds: Sequence[int],
        lrs: Sequence[float],
        wds: Sequence[float],
        task: str,
        n_outputs: int,
        width: int | None,
        epochs: int,
        batch_size: int,
        data_seed: int,
        device: str | None,
    ) -> TrainedPopulation: ...


def mlp_width(n_features: int, width: int | None = None) -> int:
    """Width of the MLP encoders: ``width``, or the input size clipped to [32, 256].

    >>> mlp_width(12), mlp_width(300), mlp_width(12, width=12)
    (32, 256, 12)
    """
    return int(width) if width is not None else int(np.clip(n_features, 32, 256))


def mlp_ladder(
    train, val, *, depth, seeds, lrs, wds, task, n_outputs, width, epochs, batch_size,
    data_seed, device,
):  # fmt: skip
    """The :class:`EncoderLadder` of flat inputs (n, d): a population of MLPs of one depth.

    >>> import torch
    >>> x, y = torch.randn(40, 3), torch.arange(40) % 2
    >>> pop = mlp_ladder((x, y), (x, y), depth=2, seeds=[0, 1], lrs=[1e-2, 1e-2], wds=[0, 0],
    ...     task="classification", n_outputs=2, width=None, epochs=1, batch_size=8,
    ...     data_seed=0, device="cpu")
    >>> [tuple(f.shape) for f in pop.features(x)]
    [(2, 40, 32), (2, 40, 32)]
    """
    from alignlab.models import PopulationMLP
    from alignlab.train import TrainConfig, train_population

    d_in = train[0].shape[1]
    model = PopulationMLP(
        len(seeds), d_in, mlp_width(d_in, width), depth, n_outputs, seeds=list(seeds)
    )
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, task=task, data_seed=data_seed, device=device
    )
    return train_population(model, train, val, list(lrs), list(wds), config)


def ladder_for(x: np.ndarray) -> EncoderLadder:
    """The ladder for inputs shaped like ``x``: MLPs for (n, d), transformers for (n, T, F).

    Sequences (n, T, F) get the protocol's single-head transformers
    (:func:`alignlab.train.sequence.transformer_ladder`, embedding size = F).
    """
    if x.ndim == 2:
        return mlp_ladder
    if x.ndim == 3:
        from alignlab.train.sequence import transformer_ladder

        return transformer_ladder
    raise ValueError(f"inputs must be (n, d) or (n, T, F), got shape {x.shape}")
