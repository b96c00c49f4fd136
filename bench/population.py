"""Benchmark: training a population of MLPs at once vs one model at a time.

The workload is the synthetic study's: 10 depths x 20 hyperparameter settings (the protocol's
lr x wd grid) = 200 MLPs of width 12, on 45,875 random samples of 12 features with 4 classes,
batch 512, 5 epochs, validation on 9,830 samples after every epoch. Timed in the same process:

  (a) ``train_population``: one population of 20 members per depth, all 5 epochs;
  (b) a plain per-model loop (nn.Sequential, torch.optim.AdamW, clip_grad_norm_) with the data
      already in memory as tensors: one model per depth, ``--repeats`` epochs, scaled per
      model-epoch;
  (c) the same loop fed the way the paper's release feeds it, a per-sample ``Dataset`` and
      ``DataLoader`` over NumPy arrays: 4 models (depths 1, 4, 7, 10: their mean depth is the
      workload's 5.5), 1 epoch each, scaled per model-epoch.

(a) and (b) keep the best of ``--repeats`` timings (the machine is shared; the best is the
least disturbed), (c) is timed once. With 2 threads, which collapse when the other core is
busy, (a) runs 1 epoch once and (c) depths 1 and 10 only. (s) and the operation count for the
GPU estimate are measured with 1 thread only. Load averages are reported.

Also measured for the projection: (s) the sweep's own population shape, 100 members (20
settings x 5 seeds) each with its own batch order, 1 epoch per depth. Every setting runs in a
fresh subprocess per thread count (1 and 2), and the section "Population training" of
``bench/RESULTS.md`` is rewritten with the numbers.

    .venv/bin/python bench/population.py [--threads 1 2] [--repeats 2] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from _results import RESULTS, write_section

from alignlab.models import PopulationMLP, plain_mlp
from alignlab.train import PAPER_LRS, PAPER_WDS, TrainConfig, hyperparameter_grid, train_population

N_TRAIN, N_VAL, N_FEATURES, N_CLASSES, WIDTH = 45_875, 9_830, 12, 4, 12
DEPTHS, EPOCHS, BATCH = range(1, 11), 5, 512
DATALOADER_DEPTHS = (1, 4, 7, 10)
HEADING = "## Population training (bench/population.py)"
GPU_SECONDS_PER_OP = 10e-6  # assumed eager launch + dispatch cost of one small op on a GPU
SWEEP = {  # the paper-scale synthetic sweep (PROTOCOL.md): models and epochs
    "U": 9,
    "D_phi": 10,
    "D_enc": 10,
    "hyperparameters": 20,
    "seeds": 5,
    "epochs1": 50,
    "epochs2": 300,
}


def make_data(gen: torch.Generator) -> tuple:
    x = torch.randn(N_TRAIN, N_FEATURES, generator=gen)
    y = torch.randint(0, N_CLASSES, (N_TRAIN,), generator=gen)
    xv = torch.randn(N_VAL, N_FEATURES, generator=gen)
    yv = torch.randint(0, N_CLASSES, (N_VAL,), generator=gen)
    return x, y, xv, yv


def time_population(x, y, xv, yv, members: int, epochs: int, shared: bool, repeats: int) -> dict:
    """(a) / (s): one population per depth; seconds per depth, the best of ``repeats``."""
    lrs, wds, seeds = hyperparameter_grid(n_seeds=members // 20, base_seed=0)
    config = TrainConfig(epochs=epochs, shared_batch_order=shared, device="cpu")
    seconds = {}
    for depth in DEPTHS:
        times = []
        for _ in range(repeats):
            model = PopulationMLP(members, N_FEATURES, WIDTH, depth, N_CLASSES, seeds=seeds)
            start = time.perf_counter()
            train_population(model, (x, y), (xv, yv), lrs, wds, config)
            times.append(time.perf_counter() - start)
        seconds[depth] = min(times)
    total = sum(seconds.values())
    return {
        "seconds": total,
        "per_depth": seconds,
        "model_epochs": members * 10 * epochs,
        "epochs": epochs,
    }


def plain_epoch(net, opt, batches, val_batches) -> None:
    """One epoch of the plain per-model loop, then validation accuracy."""
    for xb, yb in batches:
        opt.zero_grad()
        F.cross_entropy(net(xb), yb).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 8.0)
        opt.step()
    with torch.no_grad():
        correct = sum(int((net(xb).argmax(1) == yb).sum()) for xb, yb in val_batches)
    assert 0 <= correct <= N_VAL


def time_plain(x, y, xv, yv, epochs: int) -> dict:
    """(b): tensors in memory, index slices per batch; per depth, the best epoch's seconds."""
    gen = torch.Generator().manual_seed(0)
    grid = [(lr, wd) for lr in PAPER_LRS for wd in PAPER_WDS]
    per_depth = {}
    for depth in DEPTHS:
        lr, wd = grid[depth % len(grid)]
        net = plain_mlp(N_FEATURES, WIDTH, depth, N_CLASSES, seed=depth)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            perm = torch.randperm(N_TRAIN, generator=gen)
            batches = (
                (x[perm[i : i + BATCH]], y[perm[i : i + BATCH]]) for i in range(0, N_TRAIN, BATCH)
            )
            val = ((xv[i : i + BATCH], yv[i : i + BATCH]) for i in range(0, N_VAL, BATCH))
            plain_epoch(net, opt, batches, val)
            times.append(time.perf_counter() - start)
        per_depth[depth] = min(times)
    return {"seconds_per_model_epoch": sum(per_depth.values()) / len(per_depth), **_d(per_depth)}


class ReleaseDataset(torch.utils.data.Dataset):
    """The release's ``SyntheticDataset``: NumPy arrays, a new tensor per field per sample."""

    def __init__(self, x1: np.ndarray, x2: np.ndarray, label: np.ndarray) -> None:
        self.x1, self.x2, self.label = x1, x2, label

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, i: int) -> list[torch.Tensor]:
        return [torch.tensor(self.x1[i]), torch.tensor(self.x2[i]), torch.tensor(self.label[i])]


def release_collate(samples: list) -> list[torch.Tensor]:
    """The release's ``process_input``: stack every field, labels through a list."""
    fields = [torch.stack([s[i] for s in samples]) for i in range(len(samples[0]) - 1)]
    return fields + [torch.tensor([s[-1] for s in samples]).view(len(samples))]


def release_epoch(net, opt, train, val, state: dict) -> None:
    """One epoch as the release's ``unimodal_supervised.train`` runs it (modality 2)."""
    total = 0.0
    for batch in train:
        opt.zero_grad()
        loss = F.cross_entropy(net(batch[1].float()), batch[-1])
        total += float(loss) * len(batch[-1])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 8)
        opt.step()
    with torch.no_grad():
        pred = torch.cat([net(b[1].float()).argmax(1) for b in val])
        true = torch.cat([b[-1] for b in val])
    acc = float((pred == true).float().mean())
    if acc > state.get("best", -1.0):  # the release saves the whole model on improvement
        state["best"] = acc
        torch.save(net, io.BytesIO())


def time_dataloader(x, y, xv, yv, depths: tuple = DATALOADER_DEPTHS) -> dict:
    """(c): the release's per-sample data path; seconds per model-epoch per depth.

    float64 NumPy arrays of both modalities, a ``Dataset`` building tensors per sample, its
    collate function, ``shuffle=True``; ``num_workers=0`` (the release's scripts pass 4 worker
    processes, which on 2 cores only adds process overhead).
    """
    gen = torch.Generator().manual_seed(0)
    make = lambda a, b: ReleaseDataset(a.double().numpy(), a.double().numpy(), b.numpy())  # noqa: E731
    train = torch.utils.data.DataLoader(
        make(x, y), batch_size=BATCH, shuffle=True, generator=gen, collate_fn=release_collate
    )
    val = torch.utils.data.DataLoader(make(xv, yv), batch_size=BATCH, collate_fn=release_collate)
    per_depth = {}
    for depth in depths:
        net = plain_mlp(N_FEATURES, WIDTH, depth, N_CLASSES, seed=depth)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
        start = time.perf_counter()
        release_epoch(net, opt, train, val, {})
        per_depth[depth] = time.perf_counter() - start
    return {"seconds_per_model_epoch": sum(per_depth.values()) / len(per_depth), **_d(per_depth)}


def ops_per_step(x, y, xv, yv) -> dict:
    """Top-level tensor operations per population step (for the GPU estimate), by depth."""
    from torch.profiler import profile

    counts = {}
    for depth in DEPTHS:
        lrs, wds, seeds = hyperparameter_grid(n_seeds=1)
        model = PopulationMLP(20, N_FEATURES, WIDTH, depth, N_CLASSES, seeds=seeds)
        config = TrainConfig(epochs=1, batch_size=N_TRAIN // 4 + 1, device="cpu")  # 4 steps
        with profile() as prof:
            train_population(model, (x, y), (xv[:64], yv[:64]), lrs, wds, config)
        views = ("view", "as_strided", "transpose", "expand", "split", "slice", "select",
                 "squeeze", "unsqueeze", "detach", "empty", "alias", "reshape", "_unsafe_view",
                 "lift_fresh", "t", "resolve_")  # fmt: skip
        top = [e for e in prof.events() if e.cpu_parent is None and e.name.startswith("aten::")]
        real = [e for e in top if not any(e.name[6:].startswith(v) for v in views)]
        counts[depth] = len(real) / 4
    return counts


def _d(per_depth: dict) -> dict:
    return {"per_depth": {int(k): v for k, v in per_depth.items()}}


def worker(threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    x, y, xv, yv = make_data(torch.Generator().manual_seed(0))
    out = {"threads": threads, "load_before": os.getloadavg()[0]}
    epochs, depths_c = EPOCHS, DATALOADER_DEPTHS
    if threads > 1:  # threads contend on a loaded 2-core machine: keep the run short
        repeats, epochs, depths_c = 1, 1, (1, 10)
    out["a"] = time_population(x, y, xv, yv, 20, epochs, shared=True, repeats=repeats)
    out["b"] = time_plain(x, y, xv, yv, epochs=max(repeats, 2))
    out["c"] = time_dataloader(x, y, xv, yv, depths_c)
    if threads == 1:  # for the projection
        out["s"] = time_population(x, y, xv, yv, 100, 1, shared=False, repeats=1)
        out["ops_per_step"] = ops_per_step(x, y, xv, yv)
    out["load_after"] = os.getloadavg()[0]
    return out


# -- reporting --------------------------------------------------------------------------------
def throughputs(r: dict) -> dict:
    a = r["a"]["model_epochs"] / r["a"]["seconds"]
    s = r["s"]["model_epochs"] / r["s"]["seconds"] if "s" in r else float("nan")
    b = 1 / r["b"]["seconds_per_model_epoch"]
    c = 1 / r["c"]["seconds_per_model_epoch"]
    return {"a": a, "b": b, "c": c, "s": s}


def per_step(per_depth: dict, depth: int) -> str:
    """Microseconds per (member-)step from seconds per model-epoch."""
    return f"{per_depth[depth] / -(-N_TRAIN // BATCH) * 1e6:.0f}"


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"  # NaN: not measured


def sweep_model_epochs() -> dict:
    m2 = SWEEP["U"] * SWEEP["D_phi"] * SWEEP["D_enc"] * SWEEP["hyperparameters"] * SWEEP["seeds"]
    m1_dedup = SWEEP["U"] * SWEEP["D_enc"] * SWEEP["hyperparameters"] * SWEEP["seeds"]
    return {
        "models2": m2,
        "models1_naive": m2,
        "models1_dedup": m1_dedup,
        "naive": m2 * SWEEP["epochs2"] + m2 * SWEEP["epochs1"],
        "dedup": m2 * SWEEP["epochs2"] + m1_dedup * SWEEP["epochs1"],
    }


def gpu_estimate(ops: dict) -> dict:
    """Launch-bound estimate: steps x ops per step x GPU_SECONDS_PER_OP, populations of 100."""
    steps_per_epoch = -(-N_TRAIN // BATCH)
    mean_ops = sum(ops.values()) / len(ops)
    sweep = sweep_model_epochs()
    seconds = {}
    for name in ("naive", "dedup"):
        population_epochs = sweep[name] / 100  # 100 members (20 settings x 5 seeds) at once
        seconds[name] = population_epochs * steps_per_epoch * mean_ops * GPU_SECONDS_PER_OP
    return {"mean_ops_per_step": mean_ops, "seconds": seconds}


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h ({seconds / 86400:,.2f} days)"


def report(results: list[dict]) -> str:
    sweep = sweep_model_epochs()
    lines = [
        HEADING,
        "",
        f"Run {datetime.date.today().isoformat()} on {platform.node() or 'this machine'}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}, no GPU in this session. Workload: 10 depths x 20 "
        f"(lr, wd) = 200 MLPs of width 12; {N_TRAIN:,} x {N_FEATURES} random samples, 4 "
        f"classes, batch {BATCH}, {EPOCHS} epochs, validation ({N_VAL:,} samples) every epoch.",
        "(a) `train_population`, one population of 20 per depth, all 5 epochs, best of "
        "`--repeats`; (b) plain per-model loop (nn.Sequential, torch.optim.AdamW, "
        "clip_grad_norm_) with tensors in memory, one model per depth, best of 2 epochs; (c) "
        "the same loop fed as the release feeds it (per-sample Dataset over float64 NumPy "
        "arrays of both modalities, its collate function, shuffle, num_workers=0), depths 1, "
        "4, 7, 10, one epoch each; (b) and (c) are scaled per model-epoch. (s) the sweep's "
        "population shape: 100 members (20 settings x 5 seeds), each its own batch order, 1 "
        "epoch per depth.",
        "",
        "| threads | load before / after | (a) population | (b) plain loop | (c) DataLoader "
        "loop | (s) sweep shape | a / b | a / c | a >= 20 b | a >= 200 c |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t = throughputs(r)
        lines.append(
            f"| {r['threads']} | {r['load_before']:.1f} / {r['load_after']:.1f} "
            f"| {t['a']:.1f} | {t['b']:.2f} | {t['c']:.2f} | {_fmt(t['s'])} "
            f"| {t['a'] / t['b']:.1f}x | {t['a'] / t['c']:.0f}x "
            f"| {'met' if t['a'] >= 20 * t['b'] else 'NOT met'} "
            f"| {'met' if t['a'] >= 200 * t['c'] else 'NOT met'} |"
        )
    lines += [
        "",
        "Throughputs are models x epochs per second (training plus validation every epoch). "
        "With 2 threads, which collapse when the other core is busy, the run is shortened: (a) "
        "1 epoch, timed once; (c) depths 1 and 10.",
        "Per depth with 1 thread, seconds per model-epoch, (a) / (b):",
        "",
        "| depth | " + " | ".join(str(d) for d in DEPTHS) + " |",
        "| --- |" + " --- |" * len(DEPTHS),
    ]
    first = next((r for r in results if r["threads"] == 1), results[0])
    a_pd = {int(k): v / (20 * first["a"]["epochs"]) for k, v in first["a"]["per_depth"].items()}
    b_pd = {int(k): v for k, v in first["b"]["per_depth"].items()}
    lines.append("| (a) | " + " | ".join(f"{a_pd[d] * 1e3:.1f} ms" for d in DEPTHS) + " |")
    lines.append("| (b) | " + " | ".join(f"{b_pd[d] * 1e3:.0f} ms" for d in DEPTHS) + " |")
    lines.append("| a / b | " + " | ".join(f"{b_pd[d] / a_pd[d]:.1f}x" for d in DEPTHS) + " |")
    one = first
    t = throughputs(one)
    best = max(t["a"], t["s"])
    lines += [
        "",
        "### Projection: the paper-scale synthetic sweep",
        "",
        f"Sweep: 9 U x 10 D_phi x 10 D_enc x 20 (lr, wd) x 5 seeds = {sweep['models2']:,} "
        f"modality-2 models x 300 epochs. Modality 1 trained again in every (D_phi, D_enc) cell "
        f"as the protocol states (naive): another {sweep['models1_naive']:,} models x 50 epochs; "
        f"modality 1 does not depend on D_phi, so deduplicated it is 9 U x 10 D_enc x 20 x 5 = "
        f"{sweep['models1_dedup']:,} models x 50 epochs. Model-epochs: naive "
        f"{sweep['naive']:,}, deduplicated {sweep['dedup']:,}.",
        "",
        f"- This machine, one process with 1 thread, at the sweep shape's {t['s']:.1f} "
        f"model-epochs/s: naive {hours(sweep['naive'] / t['s'])}, deduplicated "
        f"{hours(sweep['dedup'] / t['s'])}.",
        f"- At the best measured rate ({best:.1f} model-epochs/s): deduplicated "
        f"{hours(sweep['dedup'] / best)}; two 1-thread worker processes on the 2 cores could "
        f"halve that if both cores are free (not measured here).",
        f"- For comparison, the plain loop (b): deduplicated {hours(sweep['dedup'] / t['b'])}; "
        f"the release's DataLoader loop (c): {hours(sweep['dedup'] / t['c'])}.",
    ]
    if one.get("ops_per_step"):
        g = gpu_estimate(one["ops_per_step"])
        lines += [
            f"- One GPU, ESTIMATE (no GPU run was possible in this session): a step of a "
            f"population of 100 is launch-bound, {g['mean_ops_per_step']:.0f} tensor operations "
            f"per step on average over depths 1-10 (counted with the profiler on the CPU), at an "
            f"assumed {GPU_SECONDS_PER_OP * 1e6:.0f} us per operation: naive "
            f"{hours(g['seconds']['naive'])}, deduplicated {hours(g['seconds']['dedup'])}. "
            f"Larger populations cost the same per step on a GPU, so this shrinks further as "
            f"members are added; run this benchmark on a GPU to replace the estimate.",
        ]
    lines += [
        "",
        "Notes. Profiled with torch.profiler before optimising. What helped, one thread, "
        "population of 20: activations stored feature-major (P, width, n), so the batched "
        "products, bias broadcasts and the 4-class softmax run along the contiguous sample "
        "axis (1.6x; the softmax over a last axis of 4 was 20x slower); a hand-written backward "
        "for Linear/LeakyReLU/cross-entropy instead of autograd (1.4x); one batch gather per "
        "epoch. `torch.compile` of the step was tried and gave 1.15x for about 20 s of "
        "compilation per shape: not used. The population step is then bound by arithmetic "
        f"and memory traffic, {per_step(a_pd, DEPTHS[0])}-{per_step(a_pd, DEPTHS[-1])} us per "
        "member-step (validation included) at depths 1-10, and no cheaper per member with 100 "
        f"members than with 20, while the plain loop spends {per_step(b_pd, DEPTHS[0])}-"
        f"{per_step(b_pd, DEPTHS[-1])} us per step, mostly in per-op dispatch (its optimizer "
        "and clipping loop over every parameter tensor); their ratio caps the speed-up on this "
        "CPU, most at larger depths. With "
        "2 threads both sides slow down several-fold when the other core is busy (the table's "
        "load averages), so 1 thread per process is the setting to use here.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--repeats", type=int, default=2, help="timings of (a) and epochs of (b); best kept"
    )
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.threads[0], args.repeats)))
        return
    results = []
    for threads in args.threads:
        print(f"threads={threads} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--worker", "--threads", str(threads)]
        cmd += ["--repeats", str(args.repeats)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        t = throughputs(r)
        print(
            f"threads={threads}: (a) {t['a']:.1f}  (b) {t['b']:.2f}  (c) {t['c']:.3f}  "
            f"(s) {t['s']:.1f} model-epochs/s;  a/b = {t['a'] / t['b']:.1f}x  "
            f"a/c = {t['a'] / t['c']:.0f}x  ((b), (c) timed on a subset, scaled per model-epoch)",
            flush=True,
        )
    text = report(results)
    if not args.no_write:
        write_section(text, HEADING)
        print(f"wrote {RESULTS}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
