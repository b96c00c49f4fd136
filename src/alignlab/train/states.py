"""Where a population's training stopped (``PopulationResult.state``), cut and joined: the
members of a selection go on alone (:func:`take_state`), several populations go on as one
(:func:`concat_states`).

A state holds ``flat``, ``exp_avg`` and ``exp_avg_sq`` (P, n_params), ``step`` and ``epoch``
(ints: the optimizer steps and epochs of the run so far), ``generators`` (one batch-order
generator state per member, or one for a shared order) and ``tracker``, each member's records
(:class:`alignlab.train._tracker.MemberTracker`'s fields, first dimension P)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def take_state(state: dict, index: Sequence[int], shared_batch_order: bool = False) -> dict:
    """The ``state`` of members ``index`` only (to resume a selection of a population)."""
    idx = torch.as_tensor(list(index), dtype=torch.long)
    gens = state["generators"] if shared_batch_order else [state["generators"][i] for i in idx]
    return {
        **{k: state[k][idx] for k in ("flat", "exp_avg", "exp_avg_sq")},
        "step": state["step"],
        "epoch": state["epoch"],
        "generators": gens,
        "tracker": {k: v[idx] for k, v in state["tracker"].items()},
    }


def concat_states(states: list[dict]) -> dict:
    """One ``train_population`` state of several populations, their members in order, to go on
    as one population (several cells of a study at one rung).

    ``states`` is a non-empty list of states with one batch order per member
    (``shared_batch_order=False``). The populations with a member still training must have
    stopped at the same epoch and step.
    One whose members all stopped early (patience) or diverged may have stopped sooner: its
    members are never stepped again, so the others' epoch and step serve for it too.
    """
    if not states:
        raise ValueError("concat_states needs at least one state")
    live = [s for s in states if bool(s["tracker"]["active"].any())] or states[:1]
    if len({(s["epoch"], s["step"]) for s in live}) > 1:
        raise ValueError(
            "populations still training must be at the same epoch and step to go on as one, "
            f"got {sorted({(s['epoch'], s['step']) for s in live})} (epoch, step)"
        )
    return {
        **{k: torch.cat([s[k] for s in states]) for k in ("flat", "exp_avg", "exp_avg_sq")},
        "step": live[0]["step"],
        "epoch": live[0]["epoch"],
        "generators": [g for s in states for g in s["generators"]],
        "tracker": {k: torch.cat([s["tracker"][k] for s in states]) for k in states[0]["tracker"]},
    }
