"""What training a population returns, and scoring a population on a split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from alignlab.models.population_mlp import PopulationMLP
from alignlab.train._fused import fused_scores
from alignlab.train.states import take_state

if TYPE_CHECKING:
    from alignlab.train.config import TrainConfig

_EVAL_ELEMENTS = 1 << 18  # activations per scoring chunk, P * chunk * width: cache-sized


def _argmax_classes(out: Tensor) -> Tensor:
    """``out.argmax(1)`` for (P, C, n); for few classes a running comparison, several times
    faster on a CPU than a reduction over the short axis 1 (same result: first maximum wins)."""
    if out.shape[1] > 16:
        return out.argmax(1)
    best, index = out[:, 0], torch.zeros_like(out[:, 0], dtype=torch.long)
    for c in range(1, out.shape[1]):
        better = out[:, c] > best
        best = torch.maximum(best, out[:, c])
        index.masked_fill_(better, c)
    return index


@torch.no_grad()
def score_population(model: PopulationMLP, x: Tensor, y: Tensor, task: str) -> Tensor:
    """Every member's score on ``(x, y)``, in one batched forward per chunk of samples.

    Classification: accuracy. Regression: sign accuracy, the fraction of samples where
    ``prediction >= 0`` agrees with ``target >= 0`` (MultiBench's convention, zeros counted as
    positive). Both lie in [0, 1], larger is better.

    Parameters
    ----------
    model : PopulationMLP with P members
    x : Tensor of shape (n, in_features), on the model's device
    y : Tensor of shape (n,): int64 labels or float targets

    Returns
    -------
    Tensor of shape (P,), float32.

    >>> from alignlab.models import PopulationMLP
    >>> pop = PopulationMLP(3, 4, 5, 1, 2, seeds=[0, 1, 2])
    >>> x, y = torch.randn(8, 4), torch.zeros(8, dtype=torch.long)
    >>> score_population(pop, x, y, "classification").shape
    torch.Size([3])
    """
    fused = fused_scores(model, x, y, torch.zeros(model.n_members), x.shape[0], task)
    if fused is not None:  # one C forward pass per member (alignlab.train._fused)
        return fused
    chunk = max(1, _EVAL_ELEMENTS // (model.n_members * max(model.width, model.out_features)))
    correct = torch.zeros(model.n_members, device=x.device)
    for start in range(0, x.shape[0], chunk):
        out = model.run(x[start : start + chunk])[0]  # (P, n_out, c)
        target = y[start : start + chunk]  # (c,)
        if task == "classification":
            hit = _argmax_classes(out) == target
        else:
            hit = (out[:, 0] >= 0) == (target >= 0)
        correct += hit.sum(1)
    return correct / x.shape[0]


def score_groups(model: PopulationMLP, x: Tensor, y: Tensor, groups: Tensor, task: str) -> Tensor:
    """Every member's score on its own dataset: member ``p`` on ``(x[groups[p]], y[groups[p]])``.

    Parameters
    ----------
    x : Tensor of shape (G, n, in_features), G datasets of n samples, on the model's device
    y : Tensor of shape (G, n), on the model's device
    groups : int64 Tensor of shape (P,), values in [0, G), on the model's device

    Returns
    -------
    Tensor of shape (P,), float32: each group's members scored together, as a population of
    them alone would be (:func:`score_population`).
    """
    if groups.shape != (model.n_members,) or x.dim() != 3 or y.shape != x.shape[:2]:
        raise ValueError(
            f"score_groups needs x (G, n, d), y (G, n) and one group per member "
            f"({model.n_members},), got {tuple(x.shape)}, {tuple(y.shape)}, {tuple(groups.shape)}"
        )
    n = x.shape[1]
    fused = fused_scores(model, x.reshape(-1, x.shape[2]), y.reshape(-1), groups * n, n, task)
    if fused is not None:
        return fused
    scores = torch.empty(model.n_members, device=x.device)
    for g in torch.unique(groups).tolist():
        ids = (groups == g).nonzero().flatten()
        sub = model if len(ids) == model.n_members else model.take(ids.tolist())
        scores[ids] = score_population(sub, x[g], y[g], task)
    return scores


@dataclass(frozen=True)
class MemberResult:
    """One member's outcome, as plain Python values."""

    index: int
    seed: int
    lr: float
    wd: float
    best_val_score: float  # NaN when the member diverged before its first validation
    best_epoch: int | None
    epochs_run: int
    diverged: bool
    diverged_step: int | None  # 0-based optimizer step whose loss or gradient was non-finite


@dataclass
class PopulationResult:
    """Outcome of ``train_population``: per-member records and the best-validation weights.

    Attributes (P = number of members; tensors are on the CPU)
    ----------
    best_val_score : Tensor (P,)
        Best validation score seen while the member was healthy (NaN if never).
    best_epoch : Tensor (P,), int64
        0-based epoch of that score, the earliest on ties; -1 if none.
    epochs_run : Tensor (P,), int64
        Epochs the member started while training (fewer after divergence or early stopping).
    diverged : Tensor (P,), bool
    diverged_step : Tensor (P,), int64
        0-based optimizer step at which the member's loss or gradient became non-finite; -1 if
        it never did. From that step on its parameters are frozen.
    val_history : Tensor (n_evaluations, P)
        Validation score after every evaluated epoch (the frozen weights' score after a stop).
    train_loss_history : Tensor (epochs, P)
        Mean training loss per epoch.
    best_model : PopulationMLP
        A copy of the population holding every member's best-validation weights.
    lrs, wds : Tensor (P,), float64
    seeds : list of int
        Initialisation seeds.
    data_seeds : list of int
        Batch-order seeds (all equal to the config's ``data_seed`` for a shared order).
    config : TrainConfig
    state : dict or None
        Where training stopped (last weights, optimizer moments, batch-order generators,
        records): ``train_population(..., resume=state)`` goes on from there.
    """

    best_val_score: Tensor
    best_epoch: Tensor
    epochs_run: Tensor
    diverged: Tensor
    diverged_step: Tensor
    val_history: Tensor
    train_loss_history: Tensor
    best_model: PopulationMLP
    lrs: Tensor
    wds: Tensor
    seeds: list[int]
    data_seeds: list[int]
    config: TrainConfig
    state: dict | None = None

    @property
    def n_members(self) -> int:
        return len(self.seeds)

    def member(self, p: int) -> MemberResult:
        """Member ``p``'s record with ``None`` for a missing epoch or divergence step."""
        best_epoch = int(self.best_epoch[p])
        step = int(self.diverged_step[p])
        return MemberResult(
            index=p,
            seed=self.seeds[p],
            lr=float(self.lrs[p]),
            wd=float(self.wds[p]),
            best_val_score=float(self.best_val_score[p]),
            best_epoch=None if best_epoch < 0 else best_epoch,
            epochs_run=int(self.epochs_run[p]),
            diverged=bool(self.diverged[p]),
            diverged_step=None if step < 0 else step,
        )

    def take(self, index: Sequence[int]) -> PopulationResult:
        """The result of members ``index`` only (in that order): one cell of a population that
        trained several. Every per-member record is the one that member would have alone;
        what belongs to the whole run stays the population's: the histories' lengths (epochs
        run by any member) and the state's epoch and step."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        picked = [int(i) for i in idx]
        per_member = ("best_val_score", "best_epoch", "epochs_run", "diverged", "diverged_step")
        return PopulationResult(
            **{name: getattr(self, name)[idx] for name in per_member},
            val_history=self.val_history[:, idx],
            train_loss_history=self.train_loss_history[:, idx],
            best_model=self.best_model.take(picked),
            lrs=self.lrs[idx],
            wds=self.wds[idx],
            seeds=[self.seeds[i] for i in picked],
            data_seeds=[self.data_seeds[i] for i in picked],
            config=self.config,
            state=(
                None
                if self.state is None
                else take_state(self.state, picked, self.config.shared_batch_order)
            ),
        )

    def members(self) -> list[MemberResult]:
        """Every member's record, in order (one row per member for a results table)."""
        return [self.member(p) for p in range(self.n_members)]

    def evaluate(self, x: Tensor, y: Tensor) -> Tensor:
        """Score (P,) of every member's best-validation weights on ``(x, y)``, in [0, 1]."""
        device = self.best_model.flat.device
        return score_population(
            self.best_model, x.to(device, torch.float32), y.to(device), self.config.task
        ).cpu()

    def features(self, x: Tensor) -> list[Tensor]:
        """Best-validation features of ``x`` (n, in_features): ``depth`` tensors (P, n, width)."""
        with torch.no_grad():
            return self.best_model.features(x.to(self.best_model.flat.device, torch.float32))

    def checkpoint(self) -> dict:
        """The best weights with everything needed to rebuild and identify them."""
        return {
            "weights": self.best_model.flat.detach().cpu(),
            "architecture": dict(self.best_model.config),
            "seeds": list(self.seeds),
            "data_seeds": list(self.data_seeds),
            "lrs": self.lrs,
            "wds": self.wds,
            "best_epoch": self.best_epoch,
            "best_val_score": self.best_val_score,
            "config": self.config.model_dump(),
        }
