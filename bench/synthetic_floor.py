"""Benchmark: one training step of a population against the arithmetic floor of its products.

The synthetic sweep's population: P members (default 100: 20 (lr, wd) x 5 seeds) of depth 5,
width 12, each with its own batch of 512 (``shared_batch_order=False``, as the study trains).
With one torch thread, timed in the same process (best of ``--repeats``, the repeats of all
the timings taken in turn so that a change of load falls on all of them):

- the member-step: a whole step of ``train_population``'s loop (batch gather, forward and
  backward, per-member clip, AdamW), divided by P, with each of the two steps it can take:
  the fused C step (``alignlab.train._fused``, gather included), which training uses where it
  builds, and the PyTorch step (``alignlab.train._step``: gather, then ``loss_and_grad``);
- their parts: the gather, the loss and gradient, the clip, the AdamW step;
- the floor: only the batched products of one step, (P, 12, 12) @ (P, 12, 512) and the
  others of the forward and backward pass, into preallocated outputs, divided by P.

The section "Population step against its floor" of ``bench/RESULTS.md`` is rewritten with the
numbers and the load average.

    .venv/bin/python bench/synthetic_floor.py [--members 100] [--depths 1 5 10] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

import torch
from _results import write_section

from alignlab.models import PopulationMLP
from alignlab.train._fused import (
    fused_adamw_step,
    fused_loss_and_grad,
    fused_step_available,
    fused_step_reason,
)
from alignlab.train._step import gather_batch, loss_and_grad, with_ones
from alignlab.train.adamw import PopulationAdamW, clip_grad_norm_per_member_

HEADING = "## Population step against its floor (bench/synthetic_floor.py)"
N_TRAIN, WIDTH, N_FEATURES, N_CLASSES, BATCH = 45_875, 12, 12, 4, 512


def best_of(fns: dict, steps: int, repeats: int) -> dict:
    """Best mean seconds per call of each of ``fns`` (name -> callable) over ``repeats`` runs
    of ``steps`` calls, the runs of all of them taken in turn (a change of load on a shared
    machine then falls on every one alike, not on whichever ran last)."""
    best = {}
    for name, fn in fns.items():
        fn()  # warm-up
        best[name] = float("inf")
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def measure(members: int, depth: int, steps: int, repeats: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N_TRAIN, N_FEATURES, generator=gen)
    y = torch.randint(0, N_CLASSES, (N_TRAIN,), generator=gen)
    model = PopulationMLP(members, N_FEATURES, WIDTH, depth, N_CLASSES, seeds=range(members))
    flat = model.flat.detach()
    grad = torch.zeros_like(flat)
    opt = PopulationAdamW(flat, torch.full((members,), 1e-3), torch.zeros(members))
    active = torch.ones(members, dtype=torch.bool)
    idx = torch.stack([torch.randperm(N_TRAIN, generator=gen)[:BATCH] for _ in range(members)])
    x1 = with_ones(x)  # as train_population holds its inputs
    xb, yb = gather_batch(x1, y, idx)
    buffers: dict = {}

    def gather():
        return gather_batch(x1, y, idx, buffers)

    def fwd_bwd():
        loss_and_grad(model, xb, yb, "classification", grad, buffers)

    def clip():
        clip_grad_norm_per_member_(grad, 8.0)

    def adam():
        opt.step(grad, active)

    def fused():  # gather, loss and gradient, clip
        return fused_loss_and_grad(model, x1, y, idx, "classification", grad, buffers, 8.0, True)

    def adam_c():
        fused_adamw_step(opt, grad, active)

    def check(loss, norms):
        active.copy_(torch.isfinite(loss) & torch.isfinite(norms))
        if not bool(active.all()):  # as train_population: frozen members only
            grad.masked_fill_(~active[:, None], 0.0)

    def whole():
        xg, yg = gather_batch(x1, y, idx, buffers)
        loss = loss_and_grad(model, xg, yg, "classification", grad, buffers)
        check(loss, clip_grad_norm_per_member_(grad, 8.0))
        opt.step(grad, active)

    def whole_fused():  # as train_population's loop with the fused step
        check(*fused())
        fused_adamw_step(opt, grad, active)

    fns = {
        "whole": whole,
        "gather": gather,
        "loss_and_grad": fwd_bwd,
        "clip": clip,
        "adamw": adam,
        "floor": floor_products(members, depth),
    }
    if fused_step_available(x1):
        fused()  # the first call checks the inputs; the timed ones skip the checks
        fns.update(whole_fused=whole_fused, fused=fused, adamw_c=adam_c)
    t = best_of(fns, steps, repeats)
    return {name: seconds / members for name, seconds in t.items()}


def floor_products(p: int, depth: int):
    """The batched products of one step, into preallocated outputs (no other work)."""
    g = torch.Generator().manual_seed(1)
    xt = torch.randn(p, N_FEATURES, BATCH, generator=g)  # the batch, feature-major
    hidden = [torch.randn(p, WIDTH, WIDTH, generator=g) for _ in range(depth - 1)]
    w0 = torch.randn(p, WIDTH, N_FEATURES, generator=g)
    head = torch.randn(p, N_CLASSES, WIDTH, generator=g)
    act = torch.randn(p, WIDTH, BATCH, generator=g)
    act_t = act.transpose(1, 2).contiguous()  # (P, n, width)
    x_n = xt.transpose(1, 2).contiguous()  # (P, n, features)
    d_out = torch.randn(p, N_CLASSES, BATCH, generator=g)
    z = torch.empty(p, WIDTH, BATCH)
    out = torch.empty(p, N_CLASSES, BATCH)
    gw = torch.empty(p, WIDTH, WIDTH)
    gh = torch.empty(p, N_CLASSES, WIDTH)
    back = torch.empty(p, WIDTH, BATCH)

    def run():
        torch.bmm(w0, xt, out=z)  # forward: input layer
        for w in hidden:
            torch.bmm(w, act, out=z)
        torch.bmm(head, act, out=out)
        torch.bmm(d_out, act_t, out=gh)  # backward: head weights, then its input
        torch.bmm(head.transpose(1, 2), d_out, out=back)
        for w in hidden:
            torch.bmm(z, act_t, out=gw)
            torch.bmm(w.transpose(1, 2), z, out=back)
        torch.bmm(z, x_n, out=gw)  # input layer's weights

    return run


def report(results: dict, members: int, load: tuple) -> str:
    """The section: one row per (depth, step), ``results`` mapping depth -> :func:`measure`."""
    date = datetime.date.today().isoformat()
    rows, ratios = [], []
    for depth, r in results.items():
        us = {k: v * 1e6 for k, v in r.items()}
        if "fused" in us:
            rows.append(
                f"| {depth} | fused (C) | {us['whole_fused']:.1f} | in the step | "
                f"{us['fused']:.1f} | in the step | {us['adamw_c']:.1f} | {us['floor']:.1f} | "
                f"**{r['whole_fused'] / r['floor']:.2f}x** |"
            )
            ratios.append(f"{r['whole'] / r['whole_fused']:.2f}x at depth {depth}")
        rows.append(
            f"| {depth} | PyTorch | {us['whole']:.1f} | {us['gather']:.1f} | "
            f"{us['loss_and_grad']:.1f} | {us['clip']:.1f} | {us['adamw']:.1f} | "
            f"{us['floor']:.1f} | {r['whole'] / r['floor']:.2f}x |"
        )
    if ratios:
        ratio = "The PyTorch step costs the fused one's time times " + ", ".join(ratios) + "."
    else:
        ratio = f"The fused step did not run: {fused_step_reason()}."
    depths = ", ".join(str(d) for d in results)
    lines = [
        HEADING,
        "",
        f"Run {date} on this machine (2 cores, shared), one torch thread, load average "
        f"{load[0]:.1f} before / {load[1]:.1f} after. Populations of {members} members of depth "
        f"{depths}, width 12, each its own batch of 512 (the sweep's shape). Microseconds per "
        "member-step, best of the repeats, every timing of a depth taken in turn in one process:",
        "",
        "| depth | step | whole step | gather | loss and gradient | clip | AdamW | floor "
        "(products only) | step / floor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        ratio,
        "",
        "The floor is the batched (P, 12, 12) @ (P, 12, 512) products of one step (forward, and "
        "the weight and input gradients of the backward pass) by `torch.bmm` into preallocated "
        "outputs, one activation array reused for every layer. The PyTorch step's products are "
        "(P, 13, 13) @ (P, 13, 512) (a ones row carries the bias) over one array per layer, and "
        "it adds the gather of each member's batch, the LeakyReLU and its gradient and the "
        "softmax, each a pass over memory. The fused step (`alignlab/train/population_step.c`) "
        "does one member at a time: its batch gathered and transposed (AVX-512 gathers), each "
        "product computed in registers (4 rows x 2 vectors of samples) with its bias and "
        "LeakyReLU (or the LeakyReLU's gradient) applied before it is stored, the softmax and "
        "loss on the head's output while it is in cache, then the member's gradient norm and "
        "clip; its AdamW is one C loop over the population (`population_adamw`). The PyTorch "
        "step's clip and AdamW are `alignlab.train.adamw`'s tensor operations.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    before = os.getloadavg()[0]
    results = {d: measure(args.members, d, args.steps, args.repeats) for d in args.depths}
    text = report(results, args.members, (before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        write_section(text, HEADING)


if __name__ == "__main__":
    main()
