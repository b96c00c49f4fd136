"""Per-member bookkeeping shared by the training loops: health, epochs run, best checkpoint."""

from __future__ import annotations

import torch
from torch import Tensor


class MemberTracker:
    """Which members still train, when any diverged, and each one's best-validation weights.

    Parameters
    ----------
    flat : Tensor of shape (P, n_params)
        The population's parameters at the start; the first best checkpoint.

    Attributes (P members, on ``flat``'s device)
    ----------
    active : bool (P,)
        Still training: neither diverged nor stopped early. Updated in place.
    diverged : bool (P,); diverged_step : int64 (P,), -1 if never
    epochs_run : int64 (P,)
    best_score : (P,), -inf until a validation; best_epoch : int64 (P,), -1 if none
    best_flat : (P, n_params)
    """

    def __init__(self, flat: Tensor) -> None:
        n, device = flat.shape[0], flat.device
        self.active = torch.ones(n, dtype=torch.bool, device=device)
        self.diverged = torch.zeros_like(self.active)
        self.diverged_step = torch.full((n,), -1, dtype=torch.long, device=device)
        self.epochs_run = torch.zeros(n, dtype=torch.long, device=device)
        self.best_score = torch.full((n,), float("-inf"), device=device)
        self.best_epoch = torch.full((n,), -1, dtype=torch.long, device=device)
        self.best_flat = flat.detach().clone()

    FIELDS = (
        "active",
        "diverged",
        "diverged_step",
        "epochs_run",
        "best_score",
        "best_epoch",
        "best_flat",
    )

    def take(self, index: Tensor) -> MemberTracker:
        """A tracker of members ``index`` (int64 (k,)) only, copied: for a compacted population."""
        new = MemberTracker.__new__(MemberTracker)
        for name in self.FIELDS:
            setattr(new, name, getattr(self, name)[index].clone())
        return new

    def put(self, into: MemberTracker, index: Tensor) -> None:
        """Write this tracker's members into rows ``index`` of ``into`` (the whole population)."""
        for name in self.FIELDS:
            getattr(into, name)[index] = getattr(self, name)

    def start_epoch(self) -> None:
        self.epochs_run += self.active

    def check_step(self, loss: Tensor, grad_norms: Tensor, step: int) -> None:
        """Mark members whose loss or gradient norm (P,) is non-finite as diverged at ``step``
        and stop them; the caller zeroes their gradients."""
        finite = torch.isfinite(loss) & torch.isfinite(grad_norms)
        newly = self.active & ~finite
        self.diverged |= newly
        self.diverged_step = torch.where(newly, step, self.diverged_step)
        self.active &= finite

    def record_validation(
        self, score: Tensor, epoch: int, flat: Tensor, patience: int | None
    ) -> None:
        """Keep the weights of members whose validation ``score`` (P,) beat their best (strictly:
        ties keep the earliest epoch); stop members ``patience`` epochs past their best."""
        improved = self.active & (score > self.best_score)
        self.best_score = torch.where(improved, score, self.best_score)
        self.best_epoch = torch.where(improved, epoch, self.best_epoch)
        self.best_flat = torch.where(improved[:, None], flat.detach(), self.best_flat)
        if patience is not None:
            self.active &= (epoch - self.best_epoch) < patience

    def best_val_score(self) -> Tensor:
        """Best validation score (P,), NaN for members never validated while healthy."""
        return torch.where(self.best_epoch >= 0, self.best_score, float("nan"))
