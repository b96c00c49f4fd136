"""Train a population of MLP encoders at once: the unit of work of the synthetic study.

Every member has its own initialisation seed, learning rate and weight decay, its own gradient
clip and its own best-validation checkpoint, and the whole population takes one batched step per
batch. Data stays on the device as tensors; batches are index slices, never a per-sample loader.
Member ``p`` follows, to float32 rounding, what training ``model.member_as_sequential(p)`` alone
with ``torch.optim.AdamW`` and ``clip_grad_norm_`` on the same batches would do (tested).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from alignlab._device import resolve_device
from alignlab.models.population_mlp import PopulationMLP
from alignlab.train._checks import check_groups, check_hyperparameters, check_split
from alignlab.train._fused import fused_adamw_step, fused_loss_and_grad, fused_step_available
from alignlab.train._step import gather_batch, loss_and_grad, with_ones
from alignlab.train._tracker import MemberTracker
from alignlab.train.adamw import PopulationAdamW, clip_grad_norm_per_member_
from alignlab.train.config import TrainConfig
from alignlab.train.result import PopulationResult, score_groups, score_population

PAPER_LRS = (1e-3, 5e-3, 1e-2, 5e-2)  # the protocol's learning-rate grid
PAPER_WDS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)  # the protocol's weight-decay grid


def hyperparameter_grid(
    lrs: Sequence[float] = PAPER_LRS,
    wds: Sequence[float] = PAPER_WDS,
    n_seeds: int = 1,
    base_seed: int = 0,
) -> tuple[Tensor, Tensor, list[int]]:
    """Members for every (seed, lr, wd): per-member learning rates, weight decays and seeds.

    Seed ``j`` is derived from ``base_seed`` (NumPy ``SeedSequence``) and shared by all
    hyperparameters, so settings are compared from the same initialisations.

    Returns
    -------
    lrs, wds : Tensor of shape (n_seeds * len(lrs) * len(wds),), float64
    seeds : list of int of the same length; member order is seed-major, then lr, then wd.

    >>> lrs, wds, seeds = hyperparameter_grid(n_seeds=5)
    >>> lrs.shape, len(set(seeds))
    (torch.Size([100]), 5)
    """
    seed_values = np.random.SeedSequence(base_seed).generate_state(n_seeds).tolist()
    rows = [(s, lr, wd) for s in seed_values for lr in lrs for wd in wds]
    return (
        torch.tensor([r[1] for r in rows], dtype=torch.float64),
        torch.tensor([r[2] for r in rows], dtype=torch.float64),
        [int(r[0]) for r in rows],
    )


def _batch_orders(n: int, generators: list[torch.Generator], device: torch.device) -> Tensor:
    """One permutation of range(n) per generator: (G, n) int64 on ``device``."""
    orders = torch.empty(len(generators), n, dtype=torch.long)
    for row, g in zip(orders, generators, strict=True):
        torch.randperm(n, generator=g, out=row)  # written in place: no stack of G copies
    return orders.to(device)


def _batch_step(
    model: PopulationMLP, x: Tensor, y: Tensor, rows: Tensor, config: TrainConfig,
    work: _Working, fused: bool, checked: bool,
) -> tuple[Tensor, Tensor]:
    """Losses and gradient norms (P,) of the batch ``rows`` ((P, b), or (1, b) shared by all),
    the clipped gradient into ``work.grad``: by the fused step where it runs (``checked``: its
    inputs were checked by an earlier call), else by the PyTorch one."""
    if fused:
        return fused_loss_and_grad(model, x, y, rows, config.task, work.grad, work.buffers,
                                   config.grad_clip, checked)  # fmt: skip
    if rows.shape[0] == 1 and model.n_members > 1:  # one batch for every member
        xb, yb = x.index_select(0, rows[0]), y.index_select(0, rows[0])
    else:
        xb, yb = gather_batch(x, y, rows, work.buffers)
    loss = loss_and_grad(model, xb, yb, config.task, work.grad, work.buffers)
    if config.grad_clip is not None:
        return loss, clip_grad_norm_per_member_(work.grad, config.grad_clip)
    return loss, torch.linalg.vector_norm(work.grad, dim=1)


COMPACT_SHARE = 0.75  # drop stopped members from the batched step once a quarter of them stopped


class _Working:
    """The members still training, as their own population: stopped and diverged members are
    dropped (``compact``) so that they no longer cost a step; rows of ``ids`` in the whole."""

    def __init__(self, model: PopulationMLP, opt: PopulationAdamW, ids: Tensor | None = None):
        self.model, self.opt = model, opt
        self.flat = model.flat.detach()  # (P_work, n_params), shares the parameters' storage
        self.grad = torch.zeros_like(self.flat)  # (P_work, n_params), rewritten every step
        self.buffers: dict = {}  # the step's arrays, per batch size
        n = model.n_members
        self.ids = torch.arange(n, device=self.flat.device) if ids is None else ids
        self.gens: list[torch.Generator] = []
        self.track: MemberTracker

    def spread(self, values: Tensor, n_members: int) -> Tensor:
        """(P_work,) values as (P,) with NaN for members no longer trained."""
        if len(self.ids) == n_members:
            return values
        out = torch.full((n_members,), float("nan"), device=values.device, dtype=values.dtype)
        out[self.ids] = values
        return out

    def finish(self, model: PopulationMLP, full: MemberTracker) -> None:
        """Write the working members' weights and records into the whole population."""
        if self.model is model:
            self.track.put(full, self.ids)
            return
        with torch.no_grad():
            model.flat[self.ids] = self.flat
        self.track.put(full, self.ids)

    def compact(
        self, model: PopulationMLP, full: MemberTracker, generators: list, shared: bool
    ) -> _Working:
        """The working population without its stopped members (who keep their records)."""
        self.finish(model, full)
        keep = self.track.active.nonzero().flatten()  # (k,) working indices
        ids = self.ids[keep]
        sub = model.take(ids.tolist())
        work = _Working(sub, self.opt.take(keep, sub.flat.detach()), ids)
        work.gens = generators if shared else [generators[i] for i in ids.tolist()]
        work.track = self.track.take(keep)
        return work


def _restore(
    resume: dict, model: PopulationMLP, opt: PopulationAdamW, generators: list, config
) -> tuple[int, int]:
    """Load ``resume`` into the model, optimizer and generators; (first epoch, step)."""
    n = model.n_members
    if resume["flat"].shape != model.flat.shape or len(resume["generators"]) != len(generators):
        raise ValueError(
            f"resume holds {resume['flat'].shape[0]} members of {resume['flat'].shape[1]} "
            f"parameters and {len(resume['generators'])} batch orders; the population has {n} "
            f"of {model.n_params} and {len(generators)}: pass take_state(state, index)"
        )
    if resume["epoch"] > config.epochs:
        raise ValueError(f"resume is at epoch {resume['epoch']}, past epochs={config.epochs}")
    with torch.no_grad():
        model.flat.copy_(resume["flat"])
    opt.exp_avg.copy_(resume["exp_avg"])
    opt.exp_avg_sq.copy_(resume["exp_avg_sq"])
    opt.step_count = int(resume["step"])
    for g, st in zip(generators, resume["generators"], strict=True):
        g.set_state(st)
    return int(resume["epoch"]), int(resume["step"])


def _state(model, work, full, generators, epoch: int, step: int, n: int) -> dict:
    """Everything :func:`train_population` needs to go on from here (``resume``)."""
    exp_avg = torch.zeros_like(model.flat.detach())
    exp_avg_sq = torch.zeros_like(exp_avg)  # stopped members' moments are never read again
    exp_avg[work.ids], exp_avg_sq[work.ids] = work.opt.exp_avg, work.opt.exp_avg_sq
    return {
        "flat": model.flat.detach().cpu().clone(),
        "exp_avg": exp_avg.cpu(),
        "exp_avg_sq": exp_avg_sq.cpu(),
        "step": step,
        "epoch": epoch,
        "generators": [g.get_state() for g in generators],
        "tracker": {name: getattr(full, name).cpu().clone() for name in MemberTracker.FIELDS},
    }


def train_population(
    model: PopulationMLP,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    lrs: Tensor | Sequence[float],
    wds: Tensor | Sequence[float],
    config: TrainConfig | None = None,
    *,
    data_seeds: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    resume: dict | None = None,
    groups: Sequence[int] | None = None,
) -> PopulationResult:
    """Train every member of ``model`` on ``train`` and keep its best-validation epoch.

    AdamW with constant per-member learning rate and decoupled weight decay, per-member
    gradient-norm clip, mini-batches of ``config.batch_size`` in a fresh random order every
    epoch; the last, partial batch is kept (as a ``DataLoader`` with ``drop_last=False``).
    A member whose loss or gradient becomes non-finite is marked diverged at that step and
    frozen; the others go on unaffected.

    Parameters
    ----------
    model : PopulationMLP with P members
        Trained in place (it ends with the last epoch's weights) and moved to the device.
    train, val : (x, y) with x of shape (n, in_features) and y of shape (n,)
        int64 labels in [0, out_features) for classification, float targets for regression.
    lrs, wds : Tensor or sequence of shape (P,)
        Learning rate (> 0) and weight decay (>= 0) of every member. Pass Python floats or
        float64: a float32 tensor has already rounded 1e-3 to a different number.
    config : TrainConfig, default TrainConfig()
    data_seeds : sequence of P int, optional
        Per-member batch-order seeds when ``config.shared_batch_order`` is False (ignored
        otherwise); default: the members' initialisation seeds. Members with equal seeds see
        the same batches.
    progress : callable(epochs_done, epochs_total), optional
        Called after every epoch, e.g. to advance a rich progress bar. Nothing prints otherwise.
    resume : dict, optional
        ``PopulationResult.state`` of an earlier call with the same members (or a selection of
        them: :func:`take_state`): training goes on from its epoch up to ``config.epochs``
        with its weights, optimizer moments, batch-order generators and best-so-far records,
        so the members follow exactly the path of one uninterrupted call.
    groups : sequence of P int, optional
        Each member's dataset, for several cells of a study trained as one population (a
        population of a few members costs several times more per member-step than one of
        dozens). ``train`` and ``val`` then hold G datasets of equal size, x of shape
        (G, n, in_features) and y of shape (G, n); member ``p`` trains and is validated on
        dataset ``groups[p]`` only, on the path it would follow in a population of its own.
        Needs ``shared_batch_order=False``.

    Returns
    -------
    PopulationResult

    >>> x, y = torch.randn(64, 12), torch.randint(0, 4, (64,))
    >>> pop = PopulationMLP(2, 12, 12, 1, 4, seeds=[0, 1])
    >>> res = train_population(pop, (x, y), (x, y), [1e-2, 1e-3], [0.0, 0.0],
    ...                        TrainConfig(epochs=2, batch_size=16, device="cpu"))
    >>> res.best_val_score.shape, res.diverged.tolist()
    (torch.Size([2]), [False, False])
    """
    config = config or TrainConfig()
    n_members = model.n_members
    lrs_t, wds_t = check_hyperparameters(lrs, wds, n_members)
    group_t = None
    if groups is not None:
        if config.shared_batch_order:
            raise ValueError("groups need shared_batch_order=False: one batch order per member")
        val_shape = torch.as_tensor(val[0]).shape
        train, val, group_t = check_groups(train, val, groups, n_members)
    x_tr, y_tr = check_split("train", *train, model, config.task)
    x_val, y_val = check_split("val", *val, model, config.task)
    if group_t is not None:  # (G * n, d) rows for the gather; validation per dataset
        x_val, y_val = x_val.view(val_shape), y_val.view(val_shape[:2])
    if config.shared_batch_order:
        data_seeds = [config.data_seed]
    elif data_seeds is None:
        data_seeds = list(model.seeds)
    elif len(data_seeds) != n_members:
        raise ValueError(
            f"data_seeds has {len(data_seeds)} entries but the population has {n_members} "
            "members; give one batch-order seed per member or leave it None"
        )
    data_seeds = [int(s) for s in data_seeds]

    device = resolve_device(config.device)
    model.to(device)
    x_tr, y_tr, x_val, y_val = (t.to(device) for t in (x_tr, y_tr, x_val, y_val))
    generators = [torch.Generator().manual_seed(s) for s in data_seeds]
    opt = PopulationAdamW(model.flat.detach(), lrs_t.to(device), wds_t.to(device))
    first_epoch, step = 0, 0
    if resume is not None:
        first_epoch, step = _restore(resume, model, opt, generators, config)
    full = MemberTracker(model.flat.detach())  # every member's record
    if resume is not None:
        for name in MemberTracker.FIELDS:
            setattr(full, name, resume["tracker"][name].to(device).clone())
    # the working population: every member at first, the ones still training after compaction
    work = _Working(model, opt)
    work.gens, work.track = generators, full.take(torch.arange(n_members, device=device))

    n, bs = x_tr.shape[0], config.batch_size
    offsets = None  # member p's rows of the stacked datasets start at groups[p] * n
    if group_t is not None:
        group_t = group_t.to(device)
        n = n // int(x_val.shape[0])
        offsets = group_t * n
    x_tr1 = with_ones(x_tr)  # (n, d + 1): the step reads its inputs with a column of ones
    fused = fused_step_available(x_tr1)
    first_step = step  # the fused step checks its inputs on its first call here only
    val_history, loss_history = [], []
    epochs_done = first_epoch

    for epoch in range(first_epoch, config.epochs):
        if not bool(work.track.active.any()):
            break
        wmodel, track, flat, grad = work.model, work.track, work.flat, work.grad
        track.start_epoch()
        order = _batch_orders(n, work.gens, device)  # (1, n) shared or (P_work, n)
        if offsets is not None:
            order += offsets[work.ids][:, None]
        loss_sum = torch.zeros(wmodel.n_members, device=device)
        for start in range(0, n, bs):
            rows = order[:, start : start + bs]  # (P_work, b), or (1, b) shared
            b = rows.shape[1]
            checked = step > first_step
            loss, norms = _batch_step(wmodel, x_tr1, y_tr, rows, config, work, fused, checked)
            track.check_step(loss, norms, step)
            if grad.device.type != "cpu" or not bool(track.active.all()):  # no sync on a GPU
                grad.masked_fill_(~track.active[:, None], 0.0)  # frozen: no update, no NaN
            if not (fused and fused_adamw_step(work.opt, grad, track.active)):
                work.opt.step(grad, track.active)
            loss_sum += loss * b
            step += 1
        loss_history.append(work.spread(loss_sum / n, n_members))

        if config.eval_every_epoch or epoch == config.epochs - 1:
            if group_t is None:
                score = score_population(wmodel, x_val, y_val, config.task)  # (P_work,)
            else:
                score = score_groups(wmodel, x_val, y_val, group_t[work.ids], config.task)
            val_history.append(work.spread(score, n_members))
            track.record_validation(score, epoch, flat, config.early_stopping_patience)
        epochs_done = epoch + 1
        if progress is not None:
            progress(epoch + 1, config.epochs)
        if not bool(track.active.any()):
            break
        if int(track.active.sum()) <= COMPACT_SHARE * wmodel.n_members:
            work = work.compact(model, full, generators, config.shared_batch_order)
    work.finish(model, full)
    track = full
    state = _state(model, work, full, generators, epochs_done, step, n_members)

    best_model = copy.deepcopy(model)
    with torch.no_grad():
        best_model.flat.copy_(track.best_flat)
    return PopulationResult(
        best_val_score=track.best_val_score().cpu(),
        best_epoch=track.best_epoch.cpu(),
        epochs_run=track.epochs_run.cpu(),
        diverged=track.diverged.cpu(),
        diverged_step=track.diverged_step.cpu(),
        val_history=torch.stack(val_history).cpu() if val_history else torch.empty(0, n_members),
        train_loss_history=(
            torch.stack(loss_history).cpu() if loss_history else torch.empty(0, n_members)
        ),
        best_model=best_model,
        lrs=lrs_t,
        wds=wds_t,
        seeds=list(model.seeds),
        data_seeds=data_seeds if not config.shared_batch_order else data_seeds * n_members,
        config=config,
        state=state,
    )
