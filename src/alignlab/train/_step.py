"""One training step's loss and gradient for a whole population, written out by hand.

For width-12 MLPs a step is a few dozen small tensor operations, and autograd's bookkeeping,
its saved pre-activations and its generic softmax backward cost about a third of it (profiled:
1.4x slower on one CPU thread). The gradients below are the textbook ones for Linear, LeakyReLU,
cross-entropy and L1; ``tests/train/test_step.py`` checks them against autograd on
``PopulationMLP.run``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from alignlab.models.population_mlp import NEGATIVE_SLOPE, PopulationMLP


@torch.no_grad()
def loss_and_grad(model: PopulationMLP, x: Tensor, y: Tensor, task: str, grad: Tensor) -> Tensor:
    """Every member's mean loss on a batch, writing its gradient into ``grad``.

    Parameters
    ----------
    model : PopulationMLP with P members (its ``flat`` is read, not changed)
    x : Tensor of shape (n, in_features) shared by all members, or (P, n, in_features)
    y : Tensor of shape (n,) or (P, n): int64 labels, or float targets for regression
    task : "classification" (cross-entropy) or "regression" (L1 on the single output)
    grad : Tensor of shape (P, n_params)
        Overwritten with d(loss_p)/d(flat_p) for every member p.

    Returns
    -------
    Tensor of shape (P,): the losses, as ``F.cross_entropy`` / ``F.l1_loss`` would give.
    """
    n_members, n = model.n_members, x.shape[-2]
    layers = model.layers(model.flat.detach())  # (P, d_out, d_in), (P, d_out, 1)
    grads = model.layers(grad)
    shared = x.dim() == 2

    w, b = layers[0]
    if shared:  # one (P * width, d) @ (d, n) product
        z = torch.addmm(b.reshape(-1, 1), w.reshape(-1, model.in_features), x.T)
        z = z.view(n_members, model.width, n)
    else:
        z = torch.baddbmm(b, w, x.transpose(1, 2))
    acts = [F.leaky_relu_(z, NEGATIVE_SLOPE)]  # every (P, width, n)
    for w, b in layers[1:-1]:
        acts.append(F.leaky_relu_(torch.baddbmm(b, w, acts[-1]), NEGATIVE_SLOPE))
    w, b = layers[-1]
    out = torch.baddbmm(b, w, acts[-1])  # (P, n_out, n)

    if task == "classification":
        target = y.view(-1, 1, n).expand(n_members, 1, n)
        logp = F.log_softmax(out, dim=1)  # classes on axis 1
        loss = logp.gather(1, target).squeeze(1).mean(1).neg_()
        delta = logp.exp_().scatter_add_(1, target, torch.full_like(target, -1, dtype=out.dtype))
        delta.div_(n)  # d(mean CE)/d(out) = (softmax - onehot) / n
    else:
        diff = out[:, 0] - y  # (P, n)
        loss = diff.abs().mean(1)
        delta = torch.sign(diff).div_(n).unsqueeze(1)  # (P, 1, n), as l1_loss's backward

    for layer in range(model.depth, -1, -1):  # head first; delta is d(loss)/d(z_layer)
        g_w, g_b = grads[layer]
        g_b.copy_(delta.sum(2, keepdim=True))
        if layer > 0:
            a_in = acts[layer - 1]
            g_w.copy_(torch.bmm(delta, a_in.transpose(1, 2)))
            back = torch.bmm(layers[layer][0].transpose(1, 2), delta)  # d/d(a_in)
            # LeakyReLU's gradient from its output: a > 0 exactly where z > 0, so the output
            # can stand for the input (self_is_result=False: the same values, and ~17x faster
            # on a CPU than the self_is_result=True kernel, measured in bench/synthetic_floor.py)
            delta = torch.ops.aten.leaky_relu_backward(back, a_in, NEGATIVE_SLOPE, False)
        elif shared:
            g_w.copy_(torch.mm(delta.reshape(-1, n), x).view_as(g_w))
        else:
            g_w.copy_(torch.bmm(delta, x))
    return loss
