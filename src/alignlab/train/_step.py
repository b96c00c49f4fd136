"""One training step's loss and gradient for a whole population, written out by hand.

For width-12 MLPs a step is a few dozen small tensor operations, and autograd's bookkeeping,
its saved pre-activations and its generic softmax backward cost about a third of it (profiled:
1.4x slower on one CPU thread). The gradients below are the textbook ones for Linear, LeakyReLU,
cross-entropy and L1; ``tests/train/test_step.py`` checks them against autograd on
``PopulationMLP.run``.

Two things cut what the step costs beyond its batched products (``bench/synthetic_floor.py``):

- Every layer's input carries a row of ones, so each Linear is one product ``[W | b] @ [a; 1]``
  and its gradient ``delta @ [a; 1]^T`` is ``[dW | db]``: no bias broadcast (which doubled the
  cost of a forward product) and no bias sum. The ``[W | b]`` blocks of all layers live in one
  layer-major array, gathered from ``flat`` (and the gradient scattered back) by one index each.
- Every array is allocated once per batch shape (:class:`StepBuffers`) and written with
  ``out=`` or in place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from alignlab.models.population_mlp import NEGATIVE_SLOPE, PopulationMLP

_lrelu_backward = torch.ops.aten.leaky_relu_backward.grad_input
_log_softmax = torch.ops.aten._log_softmax.out


def with_ones(x: Tensor) -> Tensor:
    """``x`` (..., d) with a last column of ones, (..., d + 1): inputs the step reads as they are.

    >>> with_ones(torch.zeros(2, 3))
    tensor([[0., 0., 0., 1.],
            [0., 0., 0., 1.]])
    """
    return torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)


def gather_batch(
    x: Tensor, y: Tensor, idx: Tensor, buffers: dict | None = None
) -> tuple[Tensor, Tensor]:
    """Rows ``idx`` (P, b) of ``x`` (N, d) and ``y`` (N,): ``x[idx]`` (P, b, d) and ``y[idx]``
    (P, b), by ``index_select`` (about 2.5x faster than advanced indexing on a CPU).

    With ``buffers`` (a dict kept between calls, as :func:`loss_and_grad`'s) they are written
    into arrays kept there, overwritten by the next call of the same shape.
    """
    rows = idx.reshape(-1)
    if buffers is None:
        return x.index_select(0, rows).view(*idx.shape, -1), y.index_select(0, rows).view_as(idx)
    key = ("batch", tuple(idx.shape), x.shape[1], x.dtype, y.dtype, x.device)
    if key not in buffers:
        buffers[key] = (x.new_empty(rows.shape[0], x.shape[1]), y.new_empty(rows.shape[0]))
    xb, yb = buffers[key]
    torch.index_select(x, 0, rows, out=xb)
    torch.index_select(y, 0, rows, out=yb)
    return xb.view(*idx.shape, -1), yb.view_as(idx)


def _layer_major_index(model: PopulationMLP, n_members: int) -> Tensor:
    """(P * n_params,) int64: ``flat.view(-1)[index]`` lists, layer by layer, every member's
    ``[W | b]`` (d_out, d_in + 1) row-major, so that each layer is one contiguous
    (P, d_out, d_in + 1) block."""
    positions = torch.arange(n_members * model.n_params).view(n_members, model.n_params)
    blocks = [torch.cat([w, b], dim=2).reshape(-1) for w, b in model.layers(positions)]
    return torch.cat(blocks)


def _block_shapes(model: PopulationMLP) -> list[tuple[int, int]]:
    """(rows, columns) of each layer's weight block: ``[W | b]`` and, below it for encoder
    layers, a constant row ``[0 ... 0 1]`` that carries the ones row on to the next layer."""
    depth = model.depth
    return [(d_out + (i < depth), d_in + 1) for i, (d_in, d_out) in enumerate(model.layer_sizes)]


def _weight_slots(model: PopulationMLP, n_members: int) -> Tensor:
    """(P * n_params,) int64: where each entry of ``flat.view(-1)`` goes in the weight blocks
    (layer-major, each layer (P, rows, columns) as :func:`_block_shapes`)."""
    positions = torch.arange(n_members * model.n_params).view(n_members, model.n_params)
    slots = torch.empty(n_members * model.n_params, dtype=torch.long)
    start = 0
    for (w, b), (rows, cols) in zip(model.layers(positions), _block_shapes(model), strict=True):
        block = torch.arange(start, start + n_members * rows * cols).view(n_members, rows, cols)
        d_out = w.shape[1]
        slots[w.reshape(-1)] = block[:, :d_out, :-1].reshape(-1)
        slots[b.reshape(-1)] = block[:, :d_out, -1:].reshape(-1)
        start += block.numel()
    return slots


def _blocks(array: Tensor, n_members: int, shapes: list[tuple[int, int]]) -> list[Tensor]:
    """(P, rows, columns) views of a layer-major ``array``, one per shape."""
    views, start = [], 0
    for rows, cols in shapes:
        size = n_members * rows * cols
        views.append(array[start : start + size].view(n_members, rows, cols))
        start += size
    return views


class StepBuffers:
    """The arrays of one step of ``model``'s P members on batches of n samples.

    Attributes
    ----------
    slots : int64 (P * n_params,): where ``flat``'s entries go in ``weight``
    weight : per layer (P, d_out + 1, d_in + 1) (the head: (P, d_out, d_in + 1)): ``[W | b]``
        over the constant row ``[0 ... 0 1]``, all layers in one layer-major array ``weights``
    grad : per layer (P, d_out, d_in + 1): ``[dW | db]``, in one layer-major array ``grads``
    to_flat : int64 (P * n_params,): ``grad.view(-1) = grads[to_flat]``
    x : (P, n, in_features + 1), last column ones, or None: made for an unshared input given
        without its ones
    acts : (depth, P, width + 1, n): every activation, with a last row of ones
    back : two (P, width, n): d(loss)/d(activation) of alternate layers in the backward pass
    out, logp, probs : (P, out_features, n): outputs, log-softmax, softmax minus one-hot
    minus_one : (P, 1, n), all -1: the one-hot's scatter source
    """

    def __init__(self, model: PopulationMLP, n: int, like: Tensor) -> None:
        p, width, device = model.n_members, model.width, like.device
        empty = {"dtype": like.dtype, "device": device}
        shapes = _block_shapes(model)
        self.slots = _weight_slots(model, p).to(device)
        self.weights = torch.zeros(sum(p * r * c for r, c in shapes), **empty)
        self.weight = _blocks(self.weights, p, shapes)
        for block in self.weight[:-1]:
            block[:, -1, -1] = 1.0
        self.to_flat = torch.argsort(_layer_major_index(model, p)).to(device)
        self.grads = torch.empty(p * model.n_params, **empty)
        self.grad = _blocks(self.grads, p, [(d_out, d_in + 1) for d_in, d_out in model.layer_sizes])
        self.x: Tensor | None = None
        self.acts = torch.empty(model.depth, p, width + 1, n, **empty)
        self.back = (torch.empty(p, width, n, **empty), torch.empty(p, width, n, **empty))
        self.out = torch.empty(p, model.out_features, n, **empty)
        self.logp = torch.empty_like(self.out)
        self.probs = torch.empty_like(self.out)
        self.minus_one = torch.full((p, 1, n), -1.0, **empty)


def _step_buffers(model: PopulationMLP, n: int, like: Tensor, cache: dict | None) -> StepBuffers:
    """``cache``'s buffers for (P, n), made on first use; fresh ones without a cache."""
    if cache is None:
        return StepBuffers(model, n, like)
    key = (model.n_members, n, like.dtype, like.device)
    if key not in cache:
        cache[key] = StepBuffers(model, n, like)
    return cache[key]


def _input(model: PopulationMLP, x: Tensor, buf: StepBuffers) -> Tensor:
    """``x`` with its column of ones: (n, d + 1) or (P, n, d + 1)."""
    if x.shape[-1] == model.in_features + 1:
        return x
    if x.dim() == 2:
        return with_ones(x)
    if buf.x is None:
        buf.x = with_ones(x)
    else:
        buf.x[..., :-1].copy_(x)
    return buf.x


def _forward(model: PopulationMLP, x: Tensor, buf: StepBuffers) -> None:
    """Fill ``buf.acts`` (depth, P, width + 1, n) and ``buf.out`` (P, out_features, n).

    Each encoder product ``[W | b; 0 1] @ [a; 1]`` gives the next ``[z; 1]`` whole, and the
    LeakyReLU keeps the ones (a non-finite activation makes its member's ones NaN: that
    member's loss is not finite either way, and it is stopped as diverged).
    """
    a = buf.acts[0]
    if x.dim() == 2:  # shared input: one (P * (width + 1), d + 1) @ (d + 1, n) product
        torch.mm(buf.weight[0].view(-1, x.shape[1]), x.T, out=a.view(-1, x.shape[0]))
    else:
        torch.bmm(buf.weight[0], x.transpose(1, 2), out=a)
    F.leaky_relu_(a, NEGATIVE_SLOPE)
    for i in range(1, model.depth):
        F.leaky_relu_(torch.bmm(buf.weight[i], buf.acts[i - 1], out=buf.acts[i]), NEGATIVE_SLOPE)
    torch.bmm(buf.weight[-1], buf.acts[-1], out=buf.out)


def _loss_delta(y: Tensor, task: str, buf: StepBuffers) -> tuple[Tensor, Tensor]:
    """Losses (P,) and d(mean loss)/d(out) (P, out_features, n), the latter in a buffer."""
    out = buf.out
    n_members, _, n = out.shape
    if task == "classification":
        target = y.view(-1, 1, n).expand(n_members, 1, n)
        logp = _log_softmax(out, 1, False, out=buf.logp)  # classes on axis 1
        loss = logp.gather(1, target).squeeze(1).mean(1).neg_()
        delta = torch.exp(logp, out=buf.probs).scatter_add_(1, target, buf.minus_one)
        return loss, delta.div_(n)  # d(mean CE)/d(out) = (softmax - onehot) / n
    diff = torch.sub(out[:, 0], y, out=buf.probs[:, 0])  # (P, n)
    loss = diff.abs().mean(1)
    return loss, diff.sign_().div_(n).unsqueeze(1)  # (P, 1, n), as l1_loss's backward


def _backward(model: PopulationMLP, x: Tensor, delta: Tensor, buf: StepBuffers) -> None:
    """Fill ``buf.grad``: every layer's ``[dW | db]``, head first."""
    for layer in range(model.depth, 0, -1):  # delta is d(loss)/d(z_layer)
        a_in = buf.acts[layer - 1]  # (P, width + 1, n)
        torch.bmm(delta, a_in.transpose(1, 2), out=buf.grad[layer])
        w = buf.weight[layer][:, : delta.shape[1], :-1]  # W alone, (P, d_out, width)
        back = torch.bmm(w.transpose(1, 2), delta, out=buf.back[layer % 2])  # d/d(a_in)
        # LeakyReLU's gradient from its output: a > 0 exactly where z > 0, so the output can
        # stand for the input (self_is_result=False: the same values, and ~17x faster on a CPU
        # than the self_is_result=True kernel, measured in bench/synthetic_floor.py)
        delta = _lrelu_backward(back, a_in[:, :-1], NEGATIVE_SLOPE, False, grad_input=back)
    if x.dim() == 2:
        torch.mm(delta.view(-1, x.shape[0]), x, out=buf.grad[0].view(-1, x.shape[1]))
    else:
        torch.bmm(delta, x, out=buf.grad[0])


@torch.no_grad()
def loss_and_grad(
    model: PopulationMLP,
    x: Tensor,
    y: Tensor,
    task: str,
    grad: Tensor,
    buffers: dict | None = None,
) -> Tensor:
    """Every member's mean loss on a batch, writing its gradient into ``grad``.

    Parameters
    ----------
    model : PopulationMLP with P members (its ``flat`` is read, not changed)
    x : Tensor of shape (n, in_features) shared by all members, or (P, n, in_features)
        Or either with a last column of ones (:func:`with_ones`), which saves copying it.
    y : Tensor of shape (n,) or (P, n): int64 labels, or float targets for regression
    task : "classification" (cross-entropy) or "regression" (L1 on the single output)
    grad : contiguous Tensor of shape (P, n_params)
        Overwritten with d(loss_p)/d(flat_p) for every member p.
    buffers : dict, optional
        Where the step's arrays are kept between calls: pass the same dict (empty at first) to
        every step of a loop. Without it they are allocated for this call.

    Returns
    -------
    Tensor of shape (P,): the losses, as ``F.cross_entropy`` / ``F.l1_loss`` would give.
    """
    buf = _step_buffers(model, x.shape[-2], grad, buffers)
    buf.weights.index_copy_(0, buf.slots, model.flat.detach().view(-1))
    x = _input(model, x, buf)
    _forward(model, x, buf)
    loss, delta = _loss_delta(y, task, buf)
    _backward(model, x, delta, buf)
    torch.index_select(buf.grads, 0, buf.to_flat, out=grad.view(-1))
    return loss
