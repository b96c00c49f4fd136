"""Resuming a population (all of it or a selection) follows the uninterrupted path exactly."""

import pytest
import torch

from alignlab.models import PopulationMLP
from alignlab.train import TrainConfig, take_state, train_population

SEEDS = [3, 4, 5, 6]
LRS = [1e-3, 1e-2, 3e-2, 5e-2]


def _data(n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=gen)
    return x, (x[:, :4] * 2 + 0.5 * torch.randn(n, 4, generator=gen)).argmax(1)


def _train(epochs, members=range(4), resume=None, patience=None):
    members = list(members)
    seeds, lrs = [SEEDS[i] for i in members], [LRS[i] for i in members]
    pop = PopulationMLP(len(members), 12, 12, 2, 4, seeds=seeds)
    config = TrainConfig(
        epochs=epochs,
        batch_size=64,
        shared_batch_order=False,
        early_stopping_patience=patience,
        device="cpu",
    )
    res = train_population(
        pop, _data(500, 0), _data(150, 1), lrs, [1e-2] * len(members), config,
        data_seeds=seeds, resume=resume,
    )  # fmt: skip
    return res, pop


@pytest.mark.parametrize("patience", [None, 2])
def test_resumed_population_matches_one_uninterrupted_call(patience):
    straight, pop = _train(8, patience=patience)
    first, _ = _train(3, patience=patience)
    assert first.state["epoch"] == 3
    resumed, pop2 = _train(8, resume=first.state, patience=patience)
    assert resumed.best_epoch.tolist() == straight.best_epoch.tolist()
    assert resumed.epochs_run.tolist() == straight.epochs_run.tolist()
    assert torch.equal(resumed.best_val_score, straight.best_val_score)
    assert torch.equal(resumed.checkpoint()["weights"], straight.checkpoint()["weights"])
    assert torch.equal(pop2.flat, pop.flat)
    assert resumed.state["epoch"] == 8 and resumed.state["step"] == straight.state["step"]


def test_a_selection_resumed_alone_follows_its_own_path():
    straight, _ = _train(6)
    first, _ = _train(2)
    picked = [1, 3]
    resumed, _ = _train(6, members=picked, resume=take_state(first.state, picked))
    assert resumed.best_epoch.tolist() == straight.best_epoch[picked].tolist()
    torch.testing.assert_close(resumed.best_val_score, straight.best_val_score[picked])
    torch.testing.assert_close(
        resumed.checkpoint()["weights"], straight.checkpoint()["weights"][picked]
    )


def test_a_mismatched_state_is_refused():
    first, _ = _train(2)
    with pytest.raises(ValueError, match="pass take_state"):
        _train(4, members=[0, 1], resume=first.state)
    with pytest.raises(ValueError, match="past epochs=1"):
        _train(1, resume=first.state)
