"""Several datasets in one population (``groups``): each member follows the path it would
follow in a population of its own, with patience, compaction and a resume in the middle."""

import pytest
import torch

from alignlab.models import PopulationMLP
from alignlab.train import TrainConfig, take_state, train_population


def _data(n, seed, shift):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=gen) + shift
    return x, ((x[:, :4] - shift) * 2 + 0.5 * torch.randn(n, 4, generator=gen)).argmax(1)


TRAIN = [_data(600, 0, 0.0), _data(600, 1, 1.0)]  # two cells: different inputs and labels
VAL = [_data(200, 2, 0.0), _data(200, 3, 1.0)]
CELLS = [  # (seeds, lrs) of each cell's members
    ([0, 1, 2], [1e-2, 1e-12, 3e-2]),  # 1e-12: no progress, stopped by patience
    ([3, 4], [5e-2, 1e-3]),
]


def _config(epochs, patience=2):
    return TrainConfig(
        epochs=epochs,
        batch_size=64,
        early_stopping_patience=patience,
        shared_batch_order=False,
        device="cpu",
    )


def _alone(cell, epochs):
    seeds, lrs = CELLS[cell]
    pop = PopulationMLP(len(seeds), 12, 12, 2, 4, seeds=seeds)
    return train_population(
        pop, TRAIN[cell], VAL[cell], lrs, [0.0] * len(lrs), _config(epochs), data_seeds=seeds
    )


def _stack(splits):
    return torch.stack([x for x, _ in splits]), torch.stack([y for _, y in splits])


def _packed(epochs, resume=None):
    seeds = CELLS[0][0] + CELLS[1][0]
    lrs = CELLS[0][1] + CELLS[1][1]
    pop = PopulationMLP(len(seeds), 12, 12, 2, 4, seeds=seeds)
    return train_population(
        pop, _stack(TRAIN), _stack(VAL), lrs, [0.0] * len(lrs), _config(epochs),
        data_seeds=seeds, resume=resume, groups=[0, 0, 0, 1, 1],
    )  # fmt: skip


def _assert_same(packed, alone):
    assert packed.best_epoch.tolist() == alone.best_epoch.tolist()
    assert packed.epochs_run.tolist() == alone.epochs_run.tolist()
    torch.testing.assert_close(packed.best_val_score, alone.best_val_score)
    torch.testing.assert_close(packed.best_model.flat, alone.best_model.flat)


def test_each_cell_of_a_packed_population_trains_as_it_would_alone():
    packed = _packed(12)
    assert packed.epochs_run[1] < 12  # the member without progress stopped: a compaction
    for cell, part in ((0, [0, 1, 2]), (1, [3, 4])):
        _assert_same(packed.take(part), _alone(cell, 12))


def test_a_packed_population_resumes_from_its_parts_state():
    first = _packed(5)
    whole = _packed(12)
    resumed = _packed(12, resume=take_state(first.state, [0, 1, 2, 3, 4]))
    _assert_same(resumed, whole)


def test_cells_trained_apart_go_on_as_one_even_where_one_stopped_sooner():
    from alignlab.train import concat_states

    dead = ([5, 6], [1e-12, 1e-12])  # no progress: patience stops both at epoch 2
    pop = PopulationMLP(2, 12, 12, 2, 4, seeds=dead[0])
    stopped = train_population(pop, TRAIN[0], VAL[0], dead[1], [0.0, 0.0], _config(8),
                               data_seeds=dead[0])  # fmt: skip
    assert stopped.state["epoch"] == 3 and not stopped.state["tracker"]["active"].any()
    live = _alone(1, 5)
    assert live.state["epoch"] == 5
    seeds, lrs = dead[0] + CELLS[1][0], dead[1] + CELLS[1][1]
    pop = PopulationMLP(4, 12, 12, 2, 4, seeds=seeds)
    resumed = train_population(
        pop, _stack(TRAIN), _stack(VAL), lrs, [0.0] * 4, _config(12), data_seeds=seeds,
        resume=concat_states([stopped.state, live.state]), groups=[0, 0, 1, 1],
    )  # fmt: skip
    _assert_same(resumed.take([2, 3]), _alone(1, 12))
    kept = resumed.take([0, 1])
    assert kept.epochs_run.tolist() == stopped.epochs_run.tolist()
    torch.testing.assert_close(kept.best_model.flat, stopped.best_model.flat)


def test_taking_members_of_a_result_with_a_shared_batch_order():
    pop = PopulationMLP(3, 12, 12, 1, 4, seeds=[0, 1, 2])
    config = TrainConfig(epochs=1, batch_size=64, device="cpu")  # one batch order for all
    res = train_population(pop, TRAIN[0], VAL[0], [1e-2] * 3, [0.0] * 3, config)
    part = res.take([2])
    assert part.seeds == [2] and len(part.state["generators"]) == 1


def test_groups_need_one_dataset_index_per_member_in_range():
    pop = PopulationMLP(2, 12, 12, 1, 4, seeds=[0, 1])
    with pytest.raises(ValueError, match=r"dataset index in \[0, 2\)"):
        train_population(pop, _stack(TRAIN), _stack(VAL), [1e-2] * 2, [0.0] * 2, _config(1),
                         groups=[0, 2])  # fmt: skip
    with pytest.raises(ValueError, match="G datasets of equal size"):
        train_population(pop, TRAIN[0], VAL[0], [1e-2] * 2, [0.0] * 2, _config(1), groups=[0, 1])


def test_states_go_on_as_one_where_every_live_population_stopped_at_the_same_step():
    from alignlab.train import concat_states

    first, second = _alone(0, 4).state, _alone(1, 4).state
    merged = concat_states([first, second])
    assert merged["flat"].shape[0] == 5 and len(merged["generators"]) == 5
    torch.testing.assert_close(merged["flat"][3:], second["flat"])
    done = {**first, "epoch": 2, "step": 20}  # every member stopped sooner: its step is unused
    done["tracker"] = {**first["tracker"], "active": torch.zeros(3, dtype=torch.bool)}
    assert concat_states([done, second])["epoch"] == second["epoch"]
    with pytest.raises(ValueError, match="same epoch and step"):
        concat_states([{**first, "epoch": 2, "step": 20}, second])


def test_one_dataset_as_a_group_trains_as_without_groups():
    seeds, lrs = CELLS[0]
    pop = PopulationMLP(len(seeds), 12, 12, 2, 4, seeds=seeds)
    grouped = train_population(
        pop, _stack(TRAIN[:1]), _stack(VAL[:1]), lrs, [0.0] * 3, _config(12), data_seeds=seeds,
        groups=[0, 0, 0],
    )  # fmt: skip
    _assert_same(grouped, _alone(0, 12))
