"""The hand-written loss and gradient of a population step agree with autograd."""

import pytest
import torch
import torch.nn.functional as F

from alignlab.models import PopulationMLP
from alignlab.train._step import gather_batch, loss_and_grad, with_ones


def _autograd(model, x, y, task):
    out = model(x)  # (P, n, n_out)
    if task == "classification":
        yy = y if y.dim() == 2 else y.expand(model.n_members, -1)
        loss = torch.stack([F.cross_entropy(out[p], yy[p]) for p in range(model.n_members)])
    else:
        yy = y if y.dim() == 2 else y.expand(model.n_members, -1)
        loss = torch.stack([F.l1_loss(out[p, :, 0], yy[p]) for p in range(model.n_members)])
    model.flat.grad = None
    loss.sum().backward()
    return loss.detach(), model.flat.grad.clone()


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("depth", [1, 3])
def test_loss_and_grad_match_autograd(task, shared, depth):
    gen = torch.Generator().manual_seed(depth)
    n_out = 4 if task == "classification" else 1
    model = PopulationMLP(3, 6, 5, depth, n_out, seeds=[0, 1, 2])
    x = torch.randn(37, 6, generator=gen) if shared else torch.randn(3, 37, 6, generator=gen)
    shape = (37,) if shared else (3, 37)
    if task == "classification":
        y = torch.randint(0, 4, shape, generator=gen)
    else:
        y = torch.randn(shape, generator=gen)
    ref_loss, ref_grad = _autograd(model, x, y, task)
    grad = torch.full_like(model.flat, float("nan"))  # every entry must be written
    loss = loss_and_grad(model, x, y, task, grad)
    assert torch.allclose(loss, ref_loss, rtol=1e-6, atol=1e-7)
    assert torch.allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shared", [True, False])
def test_reused_buffers_give_autograds_gradient(shared):
    """One buffer dict across batch sizes and populations, inputs with or without their ones."""
    gen = torch.Generator().manual_seed(5)
    buffers: dict = {}
    for i, (n_members, n) in enumerate(((4, 33), (4, 8), (2, 33), (4, 33), (4, 33))):
        model = PopulationMLP(n_members, 6, 5, 2, 3, seeds=range(n_members))
        with torch.no_grad():
            model.flat.add_(0.3 * torch.randn(model.flat.shape, generator=gen))
        shape = (n, 6) if shared else (n_members, n, 6)
        x = torch.randn(shape, generator=gen)
        y = torch.randint(0, 3, shape[:-1], generator=gen)
        ref_loss, ref_grad = _autograd(model, x, y, "classification")
        grad = torch.full_like(model.flat, float("nan"))
        loss = loss_and_grad(
            model, with_ones(x) if i % 2 else x, y, "classification", grad, buffers
        )
        assert torch.allclose(loss, ref_loss, rtol=1e-6, atol=1e-7)
        assert torch.allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
    assert len(buffers) == 3  # one set of arrays per (members, batch size)


def test_gather_batch_is_advanced_indexing():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 7, generator=gen), torch.randint(0, 4, (50,), generator=gen)
    idx = torch.randint(0, 50, (3, 20), generator=gen)[:, 2:]  # a non-contiguous slice
    buffers: dict = {}
    for kept in (None, buffers, buffers):
        xb, yb = gather_batch(x, y, idx, kept)
        assert torch.equal(xb, x[idx]) and torch.equal(yb, y[idx])
    assert len(buffers) == 1
