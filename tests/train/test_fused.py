"""The fused C step gives autograd's loss and gradient, and training falls back without it."""

import warnings

import pytest
import torch
from tests.train.test_step import _autograd

from alignlab.models import PopulationMLP
from alignlab.train import TrainConfig, _fused, train_population
from alignlab.train._fused import fused_adamw_step, fused_loss_and_grad, fused_step_available
from alignlab.train._step import with_ones
from alignlab.train.adamw import PopulationAdamW

needs_fused = pytest.mark.skipif(
    not fused_step_available(torch.zeros(1)), reason=f"no fused step: {_fused.fused_step_reason()}"
)


def _problem(n_members, d, width, depth, task, n, gen, n_rows=70):
    n_out = 3 if task == "classification" else 1
    model = PopulationMLP(n_members, d, width, depth, n_out, seeds=range(n_members))
    with torch.no_grad():  # away from the initialisation, so no gradient is trivially small
        model.flat.add_(0.2 * torch.randn(model.flat.shape, generator=gen))
    x = torch.randn(n_rows, d, generator=gen)
    if task == "classification":
        y = torch.randint(0, n_out, (n_rows,), generator=gen)
    else:
        y = torch.randn(n_rows, generator=gen)
    rows = torch.stack([torch.randperm(n_rows, generator=gen)[:n] for _ in range(n_members)])
    return model, x, y, rows


@needs_fused
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize(
    ("width", "depth", "n"),
    [(12, 1, 37), (12, 5, 64), (5, 3, 1), (17, 2, 33), (7, 10, 50)],  # widths not 4k, any n
)
def test_fused_step_matches_autograd(task, width, depth, n):
    gen = torch.Generator().manual_seed(width * depth + n)
    model, x, y, rows = _problem(3, 6, width, depth, task, n, gen)
    ref_loss, ref_grad = _autograd(model, x[rows], y[rows], task)
    grad = torch.full_like(model.flat.detach(), float("nan"))  # every entry must be written
    loss, norms = fused_loss_and_grad(model, with_ones(x), y, rows, task, grad, {})
    assert torch.allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
    assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)
    assert torch.allclose(norms, ref_grad.norm(dim=1), rtol=1e-5)


@needs_fused
def test_one_shared_batch_is_every_members_batch():
    gen = torch.Generator().manual_seed(1)
    model, x, y, rows = _problem(4, 6, 12, 2, "classification", 40, gen)
    shared = rows[:1]  # (1, b): every member trains on member 0's batch
    grad = torch.empty_like(model.flat.detach())
    loss, _ = fused_loss_and_grad(model, x, y, shared, "classification", grad, {})
    ref_loss, ref_grad = _autograd(model, x[shared[0]], y[shared[0]], "classification")
    assert torch.allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
    assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)


@needs_fused
def test_a_member_computes_the_same_bits_in_any_population():
    """Packing cells into one population must not change a member's numbers at all."""
    gen = torch.Generator().manual_seed(2)
    model, x, y, rows = _problem(5, 6, 12, 3, "classification", 45, gen)
    grad = torch.empty_like(model.flat.detach())
    loss, _ = fused_loss_and_grad(model, x, y, rows, "classification", grad, {})
    alone = PopulationMLP(1, 6, 12, 3, 3, seeds=[3])
    with torch.no_grad():
        alone.flat.copy_(model.flat[3:4])
    grad_alone = torch.empty_like(alone.flat.detach())
    loss_alone, _ = fused_loss_and_grad(alone, x, y, rows[3:4], "classification", grad_alone, {})
    assert torch.equal(loss_alone, loss[3:4]) and torch.equal(grad_alone, grad[3:4])


@needs_fused
def test_a_non_finite_member_is_not_finite_and_the_others_are_untouched():
    gen = torch.Generator().manual_seed(3)
    model, x, y, rows = _problem(3, 6, 12, 2, "classification", 40, gen)
    with torch.no_grad():
        model.flat[1, 5] = float("inf")
    grad = torch.empty_like(model.flat.detach())
    loss, _ = fused_loss_and_grad(model, x, y, rows, "classification", grad, {})
    ref_loss, ref_grad = _autograd(model, x[rows], y[rows], "classification")
    assert not torch.isfinite(loss[1]) or not torch.isfinite(grad[1]).all()
    keep = torch.tensor([0, 2])
    assert torch.allclose(loss[keep], ref_loss[keep], rtol=1e-5)
    assert torch.allclose(grad[keep], ref_grad[keep], rtol=1e-4, atol=1e-6)


@needs_fused
def test_bad_inputs_are_refused_with_the_shape_named():
    gen = torch.Generator().manual_seed(4)
    model, x, y, rows = _problem(3, 6, 12, 1, "classification", 10, gen)
    grad = torch.empty_like(model.flat.detach())
    with pytest.raises(ValueError, match=r"x must be \(N, >= 6\)"):
        fused_loss_and_grad(model, x[:, :4], y, rows, "classification", grad, {})
    with pytest.raises(ValueError, match="rows must be int64"):
        fused_loss_and_grad(model, x, y, rows[:2], "classification", grad, {})
    with pytest.raises(ValueError, match="needs float32 x"):
        fused_loss_and_grad(model, x, y.float(), rows, "classification", grad, {})


@needs_fused
def test_training_with_the_fused_step_follows_the_pytorch_step(monkeypatch):
    gen = torch.Generator().manual_seed(5)
    x, y = torch.randn(300, 6, generator=gen), torch.randint(0, 3, (300,), generator=gen)
    config = TrainConfig(epochs=3, batch_size=64, device="cpu")

    def train():
        model = PopulationMLP(4, 6, 12, 3, 3, seeds=range(4))
        return train_population(model, (x, y), (x, y), [1e-2] * 4, [1e-3] * 4, config)

    calls = []
    real = _fused.fused_loss_and_grad
    monkeypatch.setattr(
        "alignlab.train.population.fused_loss_and_grad", lambda *a: calls.append(1) or real(*a)
    )
    fused = train()
    assert len(calls) == 3 * 5  # every step of every epoch: 300 rows in batches of 64
    monkeypatch.setattr("alignlab.train.population.fused_step_available", lambda like: False)
    plain = train()
    assert len(calls) == 15
    assert torch.allclose(fused.best_model.flat, plain.best_model.flat, atol=1e-4)
    assert torch.allclose(fused.train_loss_history, plain.train_loss_history, rtol=1e-4)


def test_without_a_compiler_training_warns_once_and_uses_the_pytorch_step(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("ALIGNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(_fused.SWITCH, raising=False)
    _fused._library.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no C compiler .*no-such-cc"):
            assert not fused_step_available(torch.zeros(1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once: a second ask says nothing
            assert not fused_step_available(torch.zeros(1))
        x, y = torch.randn(50, 6), torch.randint(0, 3, (50,))
        res = train_population(
            PopulationMLP(2, 6, 12, 1, 3, seeds=[0, 1]), (x, y), (x, y), [1e-2] * 2, [0.0] * 2,
            TrainConfig(epochs=1, batch_size=16, device="cpu"),
        )  # fmt: skip
        assert not res.diverged.any()
    finally:
        _fused._library.cache_clear()


def test_the_switch_chooses_the_pytorch_step_quietly(monkeypatch):
    monkeypatch.setenv(_fused.SWITCH, "0")
    _fused._library.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not fused_step_available(torch.zeros(1))
        assert _fused.fused_step_reason() == f"{_fused.SWITCH}=0"
    finally:
        _fused._library.cache_clear()


@needs_fused
def test_a_library_that_disagrees_is_not_used(monkeypatch):
    def wrong(lib, model, x, y, rows, task, grad, buffers, max_norm):
        grad.zero_()
        return torch.zeros(model.n_members), torch.zeros(model.n_members)

    monkeypatch.setattr(_fused, "_call", wrong)
    assert "disagrees with the PyTorch step" in _fused._self_check(None)


@needs_fused
def test_the_clip_scales_only_gradients_above_the_norm():
    gen = torch.Generator().manual_seed(7)
    model, x, y, rows = _problem(4, 6, 12, 2, "classification", 40, gen)
    _, ref_grad = _autograd(model, x[rows], y[rows], "classification")
    ref_norms = ref_grad.norm(dim=1)
    max_norm = float(ref_norms.median())  # half the members are clipped
    grad = torch.empty_like(ref_grad)
    _, norms = fused_loss_and_grad(model, x, y, rows, "classification", grad, {}, max_norm)
    assert torch.allclose(norms, ref_norms, rtol=1e-5)  # before clipping
    want = ref_grad * torch.clamp(max_norm / (ref_norms + 1e-6), max=1.0)[:, None]
    assert torch.allclose(grad, want, rtol=1e-4, atol=1e-7)


@needs_fused
def test_the_c_adamw_step_follows_population_adamw():
    gen = torch.Generator().manual_seed(8)
    param = torch.randn(5, 50, generator=gen)
    lrs = torch.tensor([1e-3, 5e-3, 1e-2, 5e-2, 1e-3], dtype=torch.float64)
    wds = torch.tensor([0.0, 1e-4, 1e-3, 1e-2, 1e-1], dtype=torch.float64)
    ref, fused = PopulationAdamW(param.clone(), lrs, wds), PopulationAdamW(param.clone(), lrs, wds)
    active = torch.tensor([True, True, True, False, True])
    for _ in range(20):
        grad = torch.randn(5, 50, generator=gen) * active[:, None]
        ref.step(grad, active)
        assert fused_adamw_step(fused, grad, active)
    assert torch.allclose(fused.param, ref.param, rtol=1e-5, atol=1e-7)
    assert torch.equal(fused.param[3], param[3])  # a frozen member keeps its weights exactly
    assert torch.allclose(fused.exp_avg_sq, ref.exp_avg_sq, rtol=1e-5, atol=1e-10)
    assert fused.step_count == ref.step_count == 20


@needs_fused
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fused_scores_are_the_pytorch_scores(task, monkeypatch):
    from alignlab.train import result, score_groups, score_population

    gen = torch.Generator().manual_seed(9)
    n_out = 4 if task == "classification" else 1
    model = PopulationMLP(5, 6, 12, 3, n_out, seeds=range(5))
    with torch.no_grad():
        model.flat.add_(0.3 * torch.randn(model.flat.shape, generator=gen))
        model.flat[2, 0] = float("nan")  # a diverged member scores as PyTorch scores it
    x = torch.randn(3, 1100, 6, generator=gen)  # three datasets, chunks of 512 and a rest
    y = torch.randint(0, 4, (3, 1100), generator=gen) if n_out == 4 else torch.randn(3, 1100)
    groups = torch.tensor([2, 0, 0, 1, 2])
    fused = score_population(model, x[1], y[1], task), score_groups(model, x, y, groups, task)
    monkeypatch.setattr(result, "fused_scores", lambda *a: None)  # the PyTorch path
    plain = score_population(model, x[1], y[1], task), score_groups(model, x, y, groups, task)
    assert torch.equal(fused[0], plain[0]) and torch.equal(fused[1], plain[1])
    # NaN outputs predict class 0 (a classifier) or a negative value (a regressor)
    hit = (y[1] == 0) if task == "classification" else (y[1] < 0)
    assert fused[0][2] == hit.float().mean()
