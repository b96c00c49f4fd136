"""Population members as result rows: the grid they are trained on and the record each leaves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignlab.experiments.spec import stable_hash


def member_grid(
    seeds: Sequence[int], lrs: Sequence[float], wds: Sequence[float]
) -> list[tuple[int, float, float]]:
    """(seed, lr, wd) of every population member, seed-major: the order of rows and weights.

    >>> member_grid([0, 1], [1e-3], [0.0, 0.1])
    [(0, 0.001, 0.0), (0, 0.001, 0.1), (1, 0.001, 0.0), (1, 0.001, 0.1)]
    """
    return [(s, lr, wd) for s in seeds for lr in lrs for wd in wds]


def member_rows(
    job_key: str,
    grid: list[tuple[int, float, float]],
    result: Any,
    test_scores: list[float],
    epochs: int,
    context: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per member of a trained population (a ``PopulationResult``), in grid order.

    Each row is ``key`` (hash of the job and the member's settings), ``job``, the ``context``
    columns (study, dataset, cell ...), then the member's seed, initialisation seed, lr, wd,
    validation and test scores, kept epoch (0-based; -1: none), epochs (the budget), epochs run
    (fewer where patience stopped the member or it diverged), whether the kept epoch
    is the last one (``best_is_last``: the member may still have been improving), diverged flag
    and divergence step (-1: never).
    """
    rows = []
    for (seed, lr, wd), member, test_score in zip(grid, result.members(), test_scores, strict=True):
        best_epoch = -1 if member.best_epoch is None else member.best_epoch
        rows.append(
            {
                "key": stable_hash([job_key, seed, lr, wd]),
                "job": job_key,
                **context,
                "seed": seed,
                "init_seed": member.seed,
                "lr": lr,
                "wd": wd,
                "val_score": member.best_val_score,
                "test_score": test_score,
                "best_epoch": best_epoch,
                "epochs": epochs,
                "epochs_run": member.epochs_run,
                "best_is_last": best_epoch == epochs - 1,
                "diverged": member.diverged,
                "diverged_step": -1 if member.diverged_step is None else member.diverged_step,
            }
        )
    return rows
