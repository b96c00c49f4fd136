"""Train a population of sequence transformers at once: the unit of work of the MultiBench study.

The loop is :func:`alignlab.train.train_population`'s, with autograd for the gradient: every
member has its own initialisation seed, learning rate, weight decay, gradient clip, dropout masks
and best-validation checkpoint; the whole population takes one batched step per batch
(:class:`~alignlab.train.PopulationAdamW` on the flat (P, n_params) parameters). Member ``p``
follows what training ``model.member(p)`` alone with ``torch.optim.AdamW`` on the same batches
would do (tested with dropout 0; with dropout the masks differ, being drawn for all members at
once from the generator seeded with ``dropout_seed``).

Batches: each member's order comes from its data seed (default: its initialisation seed) as
``torch.randperm(n, generator)`` once per epoch; members with equal data seeds see the same
batches. With ``max_members`` the population is trained in consecutive groups of at most that
many members (same results except for the dropout draws, which depend on the grouping).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from alignlab._device import resolve_device
from alignlab.models.population_transformer import PopulationTransformer
from alignlab.train._checks import check_hyperparameters
from alignlab.train._sequence_ops import (
    SequenceData,
    check_sequences,
    member_losses,
    score_sequences,
)
from alignlab.train._tracker import MemberTracker
from alignlab.train.adamw import PopulationAdamW, clip_grad_norm_per_member_
from alignlab.train.config import TrainConfig
from alignlab.train.result import PopulationResult


@dataclass
class SequencePopulationResult(PopulationResult):
    """:class:`~alignlab.train.PopulationResult` of a :class:`PopulationTransformer`:
    ``best_model`` is one, and ``evaluate`` / ``features`` take an optional mask."""

    def evaluate(self, x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """Score (P,) of every member's best-validation weights on ``(x, mask, y)``."""
        dev = self.best_model.flat.device
        m = None if mask is None else mask.to(dev)
        return score_sequences(
            self.best_model, x.to(dev, self.best_model.flat.dtype), m, y.to(dev), self.config.task
        ).cpu()

    def features(self, x: Tensor, mask: Tensor | None = None) -> list[Tensor]:
        """Best-validation pooled tokens of ``x`` (n, T, F): ``depth`` tensors (P, n, F)."""
        dev = self.best_model.flat.device
        m = None if mask is None else mask.to(dev)
        return [f.cpu() for f in self.best_model.features(x.to(dev, self.best_model.flat.dtype), m)]


def train_sequence_population(
    model: PopulationTransformer,
    train: SequenceData,
    val: SequenceData,
    lrs: Tensor | Sequence[float],
    wds: Tensor | Sequence[float],
    config: TrainConfig | None = None,
    *,
    data_seeds: Sequence[int] | None = None,
    dropout_seed: int = 0,
    max_members: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SequencePopulationResult:
    """Train every member of ``model`` on ``train`` and keep its best-validation epoch.

    Parameters
    ----------
    model : PopulationTransformer with P members; trained in place (ends at the last epoch)
    train, val : ``(x, mask, y)``: x (n, T, F), mask bool (n, T) True at real positions or
        None, y (n,) int64 labels (classification) or float targets (regression)
    lrs, wds : (P,) learning rates (> 0) and decoupled weight decays (>= 0); Python floats
    config : TrainConfig (``task``, ``epochs``, ``batch_size``, ``grad_clip``: None for none,
        ``device``); ``shared_batch_order`` True gives every member ``config.data_seed``'s order;
        default ``TrainConfig(batch_size=64, grad_clip=None)`` (the protocol's batch, no clip)
    data_seeds : (P,) batch-order seeds; default the members' initialisation seeds
    dropout_seed : seeds the dropout draws (global state is restored afterwards)
    max_members : train at most this many members at once (memory); None: all
    progress : called as ``progress(epochs_done, epochs_total)`` after every epoch

    Returns
    -------
    SequencePopulationResult

    >>> x, y = torch.randn(24, 5, 3), torch.arange(24) % 2
    >>> pop = PopulationTransformer(2, 3, 1, 2, 5, seeds=[0, 1])
    >>> res = train_sequence_population(pop, (x, None, y), (x, None, y), [1e-3, 1e-4], [0, 0],
    ...     TrainConfig(epochs=2, batch_size=8, grad_clip=None, device="cpu"))
    >>> res.best_val_score.shape, res.diverged.tolist()
    (torch.Size([2]), [False, False])
    """
    config = config or TrainConfig(batch_size=64, grad_clip=None)
    n_members = model.n_members
    lrs_t, wds_t = check_hyperparameters(lrs, wds, n_members)
    train = check_sequences("train", train, model, config.task)
    val = check_sequences("val", val, model, config.task)
    if config.shared_batch_order:
        data_seeds = [config.data_seed] * n_members
    data_seeds = list(model.seeds) if data_seeds is None else [int(s) for s in data_seeds]
    if len(data_seeds) != n_members:
        raise ValueError(f"data_seeds has {len(data_seeds)} entries, the population {n_members}")
    if max_members is not None and max_members < 1:
        raise ValueError(f"max_members must be at least 1 or None, got {max_members}")
    size = n_members if max_members is None else max_members
    groups = [list(range(s, min(s + size, n_members))) for s in range(0, n_members, size)]
    device = resolve_device(config.device)
    model.to(device)
    train, val = (tuple(None if t is None else t.to(device) for t in d) for d in (train, val))
    parts = []
    for g, index in enumerate(groups):
        sub = model if len(groups) == 1 else model.subset(index)
        seed = dropout_seed if len(groups) == 1 else _derived(dropout_seed, g)
        with torch.random.fork_rng(devices=_cuda_index(device)):
            torch.manual_seed(seed)
            parts.append(
                _train(
                    sub,
                    train,
                    val,
                    lrs_t[index],
                    wds_t[index],
                    config,
                    [data_seeds[i] for i in index],
                    progress,
                )
            )
        if len(groups) > 1:
            with torch.no_grad():
                model.flat[index] = sub.flat
    return _merge(model, parts, lrs_t, wds_t, data_seeds, config)


def _cuda_index(device: torch.device) -> list[int]:
    """The CUDA device whose generator ``fork_rng`` saves and restores (none on a CPU)."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _derived(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _batches(x: Tensor, mask: Tensor | None, y: Tensor, idx: Tensor):
    """The batch ``idx`` ((G, b) rows; G = 1: shared by all members) of ``(x, mask, y)``."""
    rows = idx[0] if idx.shape[0] == 1 else idx
    return x[rows], None if mask is None else mask[rows], y[rows]


def _train(model, train, val, lrs, wds, config, data_seeds, progress) -> dict:
    """The loop for one group of members; returns its per-member records as tensors."""
    device, n_members = model.flat.device, model.n_members
    x_tr, m_tr, y_tr = train
    opt = PopulationAdamW(model.flat.detach(), lrs.to(device), wds.to(device))
    unique = sorted(set(data_seeds))
    generators = [torch.Generator().manual_seed(s) for s in unique]
    group = torch.tensor([unique.index(s) for s in data_seeds], device=device)  # (P,)
    n, bs = x_tr.shape[0], config.batch_size
    track = MemberTracker(model.flat)
    val_history, loss_history, step = [], [], 0
    for epoch in range(config.epochs):
        track.start_epoch()
        order = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        order = order if len(unique) == 1 else order[group]  # (1, n) or (P, n)
        loss_sum = torch.zeros(n_members, device=device)
        for start in range(0, n, bs):
            xb, mb, yb = _batches(x_tr, m_tr, y_tr, order[:, start : start + bs])
            model.flat.grad = None
            loss = member_losses(model.run(xb, mb, train=True)[0], yb, config.task)  # (P,)
            loss.sum().backward()  # members are independent: row p is d(loss_p)/d(flat_p)
            grad = model.flat.grad
            if config.grad_clip is not None:
                norms = clip_grad_norm_per_member_(grad, config.grad_clip)
            else:
                norms = torch.linalg.vector_norm(grad, dim=1)
            loss = loss.detach()
            track.check_step(loss, norms, step)
            grad.masked_fill_(~track.active[:, None], 0.0)  # frozen members: no update, no NaN
            opt.step(grad, track.active)
            loss_sum += torch.nan_to_num(loss) * yb.shape[-1]
            step += 1
        model.flat.grad = None
        loss_history.append(loss_sum / n)
        if config.eval_every_epoch or epoch == config.epochs - 1:
            score = score_sequences(model, *val, config.task)  # (P,)
            val_history.append(score)
            track.record_validation(score, epoch, model.flat, config.early_stopping_patience)
        if progress is not None:
            progress(epoch + 1, config.epochs)
        if not bool(track.active.any()):
            break
    return {
        "best_val_score": track.best_val_score(),
        "best_epoch": track.best_epoch,
        "epochs_run": track.epochs_run,
        "diverged": track.diverged,
        "diverged_step": track.diverged_step,
        "val_history": torch.stack(val_history) if val_history else torch.empty(0, n_members),
        "train_loss_history": torch.stack(loss_history),
        "best_flat": track.best_flat,
    }


def _merge(model, parts, lrs, wds, data_seeds, config) -> SequencePopulationResult:
    """One result from the groups' records, in member order."""

    def cat(key: str, dim: int = 0) -> Tensor:
        tensors = [p[key].cpu() for p in parts]
        if dim == 1:  # histories: groups may stop at different epochs; pad with NaN
            rows = max(t.shape[0] for t in tensors)
            tensors = [
                torch.cat([t.float(), t.new_full((rows - len(t), t.shape[1]), float("nan"))])
                for t in tensors
            ]
        return torch.cat(tensors, dim=dim)

    best_model = model.from_flat(torch.cat([p["best_flat"] for p in parts]), model.seeds)
    return SequencePopulationResult(
        best_val_score=cat("best_val_score"),
        best_epoch=cat("best_epoch"),
        epochs_run=cat("epochs_run"),
        diverged=cat("diverged"),
        diverged_step=cat("diverged_step"),
        val_history=cat("val_history", 1),
        train_loss_history=cat("train_loss_history", 1),
        best_model=best_model,
        lrs=lrs,
        wds=wds,
        seeds=list(model.seeds),
        data_seeds=list(data_seeds),
        config=config,
    )


def transformer_ladder(
    train,
    val,
    *,
    depth,
    seeds,
    lrs,
    wds,
    task,
    n_outputs,
    width,
    epochs,
    batch_size,
    data_seed,
    device,
    dropout: float = 0.1,
    memory_gb: float = 2.0,
) -> SequencePopulationResult:
    """The diagnostic's ``EncoderLadder`` for sequences: ``train`` and ``val`` are ``(x, y)``
    with x float32 (n, T, F) (no padding); P = len(seeds) protocol transformers of one depth
    (embedding = F, so ``width`` must be None or F; [cls] pooling for classification, mean for
    regression), trained on one shared batch order from ``data_seed``.

    >>> x, y = torch.randn(16, 4, 3), torch.arange(16) % 2
    >>> pop = transformer_ladder((x, y), (x, y), depth=2, seeds=[0, 1], lrs=[1e-3, 1e-3],
    ...     wds=[0, 0], task="classification", n_outputs=2, width=None, epochs=1,
    ...     batch_size=8, data_seed=0, device="cpu")
    >>> [tuple(f.shape) for f in pop.features(x)], tuple(pop.evaluate(x, y).shape)
    ([(2, 16, 3), (2, 16, 3)], (2,))
    """
    x, y = train
    if x.dim() != 3:
        raise ValueError(f"transformer_ladder needs x of shape (n, T, F), got {tuple(x.shape)}")
    if width is not None and width != x.shape[2]:
        raise ValueError(
            f"the protocol's transformer has embedding size = input size F = {x.shape[2]}; "
            f"width={width} cannot be honoured (pass None)"
        )
    model = PopulationTransformer(
        len(seeds),
        x.shape[2],
        depth,
        n_outputs,
        x.shape[1],
        seeds=list(seeds),
        pooling="cls" if task == "classification" else "mean",
        dropout=dropout,
    )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        grad_clip=None,
        task=task,
        data_seed=data_seed,
        device=device,
    )
    budget = int(memory_gb * 2**30) // model.member_bytes(batch_size, x.shape[1])
    return train_sequence_population(
        model,
        (x, None, y),
        (val[0], None, val[1]),
        list(lrs),
        list(wds),
        config,
        dropout_seed=data_seed,
        max_members=max(1, budget),
    )
