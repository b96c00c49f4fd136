"""AdamW and gradient-norm clipping with per-member hyperparameters for a flat population.

A population's parameters are one tensor of shape (P, n_params), one row per member (see
``alignlab.models.PopulationMLP``). The update below is ``torch.optim.AdamW``'s single-tensor
step written for that layout, with the learning rate and weight decay as (P,) tensors. The
operations and their order follow ``torch/optim/adam.py`` (``_single_tensor_adam`` with
``decoupled_weight_decay=True``), and the per-member scalars are formed in float64 as torch forms
its Python-float scalars, so each row follows the same arithmetic as a separately trained model.
"""

from __future__ import annotations

import torch
from torch import Tensor


def clip_grad_norm_per_member_(grad: Tensor, max_norm: float) -> Tensor:
    """Scale each member's gradient (one row) to norm at most ``max_norm``, in place.

    Row ``p`` gets exactly what ``torch.nn.utils.clip_grad_norm_(model_p.parameters(),
    max_norm)`` does to model ``p`` alone: ``grad *= min(1, max_norm / (norm + 1e-6))``.

    Parameters
    ----------
    grad : Tensor of shape (P, n_params)
    max_norm : float, > 0

    Returns
    -------
    Tensor of shape (P,): every member's gradient L2 norm before clipping (non-finite when that
    member's gradient is).

    >>> g = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    >>> clip_grad_norm_per_member_(g, 1.0)
    tensor([5.0000, 0.5000])
    >>> g
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    norms = torch.linalg.vector_norm(grad, dim=1)  # (P,)
    coef = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    grad.mul_(coef[:, None])
    return norms


class PopulationAdamW:
    """AdamW over a (P, n_params) parameter with a learning rate and weight decay per member.

    Parameters
    ----------
    param : Tensor of shape (P, n_params)
        Updated in place by ``step``.
    lrs, wds : Tensor of shape (P,)
        Learning rate (> 0) and decoupled weight decay (>= 0) of every member.
    betas, eps : as ``torch.optim.AdamW``.

    >>> w = torch.zeros(2, 3)
    >>> opt = PopulationAdamW(w, lrs=torch.tensor([0.1, 0.01]), wds=torch.tensor([0.0, 0.0]))
    >>> opt.step(torch.ones(2, 3))
    >>> w[:, 0]  # Adam's first step moves every weight by -lr
    tensor([-0.1000, -0.0100])
    """

    def __init__(
        self,
        param: Tensor,
        lrs: Tensor,
        wds: Tensor,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.param = param
        # float64 like the Python floats torch.optim computes its scalars with
        self.lrs = torch.as_tensor(lrs, dtype=torch.float64, device=param.device)
        self.wds = torch.as_tensor(wds, dtype=torch.float64, device=param.device)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = torch.zeros_like(param)  # (P, n_params)
        self.exp_avg_sq = torch.zeros_like(param)  # (P, n_params)
        self.step_count = 0

    @torch.no_grad()
    def step(self, grad: Tensor, active: Tensor | None = None) -> None:
        """One AdamW step with gradient ``grad`` (P, n_params).

        Members where ``active`` (bool, (P,)) is False keep their parameters exactly: their
        learning rate is taken as 0 and their gradient should be zeroed by the caller (a
        non-finite gradient would otherwise poison their moments, though not other members).
        """
        self.step_count += 1
        t = self.step_count
        dtype = self.param.dtype
        lrs = self.lrs if active is None else torch.where(active, self.lrs, 0.0)
        bias_correction1 = 1 - self.beta1**t
        bias_correction2_sqrt = (1 - self.beta2**t) ** 0.5

        self.param.mul_((1 - lrs * self.wds).to(dtype)[:, None])  # decoupled weight decay
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        neg_step_size = (-(lrs / bias_correction1)).to(dtype)[:, None]  # (P, 1)
        # torch computes param + (value * exp_avg) / denom; keep that order
        self.param.addcdiv_(self.exp_avg * neg_step_size, denom)

    def take(self, index: Tensor, param: Tensor) -> PopulationAdamW:
        """The optimizer of members ``index`` (int64 (k,)) only, stepping ``param`` (k, n_params):
        their learning rates, weight decays, moments and step count, copied."""
        new = PopulationAdamW(param, self.lrs[index], self.wds[index], (self.beta1, self.beta2))
        new.eps = self.eps
        new.exp_avg = self.exp_avg[index].clone()
        new.exp_avg_sq = self.exp_avg_sq[index].clone()
        new.step_count = self.step_count
        return new

    def state_dict(self) -> dict:
        """Optimizer state as a dict with explicit keys."""
        return {
            "exp_avg": self.exp_avg,
            "exp_avg_sq": self.exp_avg_sq,
            "step": self.step_count,
            "lrs": self.lrs,
            "wds": self.wds,
            "betas": (self.beta1, self.beta2),
            "eps": self.eps,
        }
