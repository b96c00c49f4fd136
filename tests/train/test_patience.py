"""Early stopping with patience: members stop exactly patience epochs after their best, keep their
best-validation weights, and stopped members leave the batched step without changing the others."""

import torch

import alignlab.train.population as population
from alignlab.models import PopulationMLP
from alignlab.train import TrainConfig, train_population


def _data(n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=gen)
    return x, (x[:, :4] * 2 + 0.5 * torch.randn(n, 4, generator=gen)).argmax(1)


LRS = [1e-12, 1e-2, 1e-12, 3e-2, 1e-3, 5e-2]  # 1e-12 changes no float32 weight: no progress
SEEDS = [0, 1, 2, 3, 4, 5]


def _train(epochs, patience, seeds=SEEDS, lrs=LRS):
    pop = PopulationMLP(len(seeds), 12, 12, 2, 4, seeds=seeds)
    initial = pop.flat.detach().clone()
    config = TrainConfig(
        epochs=epochs,
        batch_size=64,
        early_stopping_patience=patience,
        shared_batch_order=False,
        device="cpu",
    )
    res = train_population(
        pop, _data(600, 0), _data(200, 1), lrs, [0.0] * len(lrs), config, data_seeds=seeds
    )
    return res, initial, pop


def test_a_member_without_progress_stops_exactly_patience_epochs_after_epoch_0():
    res, initial, _ = _train(epochs=20, patience=3)
    for p in (0, 2):
        m = res.member(p)
        assert (m.best_epoch, m.epochs_run) == (0, 4)  # validated at epochs 0, 1, 2, 3
        assert torch.equal(res.checkpoint()["weights"][p], initial[p])


def test_a_stopped_member_keeps_its_best_validation_weights():
    res, _, _ = _train(epochs=30, patience=2)
    stopped = [m for m in res.members() if m.epochs_run < 30 and m.lr > 1e-6]
    assert stopped, "expected a learning member to stop early"
    for m in stopped:
        assert m.epochs_run == m.best_epoch + 1 + 2
        # the same member trained for exactly best_epoch + 1 epochs without patience
        alone, _, _ = _train(m.best_epoch + 1, None, seeds=[m.seed], lrs=[m.lr])
        assert alone.member(0).best_epoch == m.best_epoch
        assert alone.member(0).best_val_score == m.best_val_score
        torch.testing.assert_close(
            res.checkpoint()["weights"][m.index], alone.checkpoint()["weights"][0]
        )


def test_compaction_changes_nothing_but_the_cost(monkeypatch):
    compactions = []
    original = population._Working.compact

    def counting(self, *args):
        compactions.append(self.model.n_members)
        return original(self, *args)

    monkeypatch.setattr(population._Working, "compact", counting)
    res, _, pop = _train(epochs=30, patience=2)
    assert compactions and compactions[0] == len(SEEDS)  # it did drop stopped members
    monkeypatch.setattr(population, "COMPACT_SHARE", 0.0)  # never compact
    ref, _, ref_pop = _train(epochs=30, patience=2)
    assert res.best_epoch.tolist() == ref.best_epoch.tolist()
    assert res.epochs_run.tolist() == ref.epochs_run.tolist()
    torch.testing.assert_close(res.best_val_score, ref.best_val_score)
    torch.testing.assert_close(res.checkpoint()["weights"], ref.checkpoint()["weights"])
    torch.testing.assert_close(pop.flat, ref_pop.flat)  # last weights too
    # a member no longer trained has no validation score in the history after it stopped
    p = 0
    assert torch.isnan(res.val_history[res.member(p).epochs_run :, p]).all()
    assert not torch.isnan(ref.val_history[:, p]).any()


def test_patience_longer_than_the_run_changes_nothing():
    res, _, _ = _train(epochs=4, patience=5)
    ref, _, _ = _train(epochs=4, patience=None)
    assert res.epochs_run.tolist() == [4] * len(SEEDS)
    assert res.best_epoch.tolist() == ref.best_epoch.tolist()
    torch.testing.assert_close(res.checkpoint()["weights"], ref.checkpoint()["weights"])
