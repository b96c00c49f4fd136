"""Benchmark: the permutation null of the best layer pair, as a multiple of the plain call.

The workload of ``bench/metrics_pairs.py`` (models of 12 x 768 and 24 x 1024 layers, n = 1024,
seeded features with shared structure). For mutual kNN (k = 10) and linear CKA, time
``align_layers`` without a null and with ``null_permutations=P`` (200 by default: the null of
the maximum over the 288 pairs, and the per-pair null), in the same run, and print the ratio
with the load average beside it (the machine may be shared). Also checks a few shuffled
pairings against the single-pair function on B's samples permuted.

    .venv/bin/python bench/metrics_calibration.py [--threads N] [--repeats R] [--permutations P]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics_pairs import LATENT, LAYERS_A, LAYERS_B, METRICS, WIDTH_A, WIDTH_B, N, make_model

from alignlab.metrics import align_layers, get_metric


def timed(fn, repeats: int):
    """Best wall time of ``repeats`` calls, its process CPU time, and the last result."""
    runs, out = [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(runs)
    return wall, cpu, out


def spot_check(metric: str, params: dict, a: list, b: list, res, seed: int) -> None:
    """The first shuffled pairing's maximum, recomputed pair by pair from permuted features."""
    gen = torch.Generator().manual_seed(seed)
    p = torch.randperm(N, generator=gen)
    fn = get_metric(metric).fn
    top = max(fn(x, y[p], **params) for x in a for y in b)
    assert math.isclose(res.layer_max.null_maxima[0], top, rel_tol=1e-5, abs_tol=1e-6), (
        res.layer_max.null_maxima[0],
        top,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--repeats", type=int, default=3, help="timings each; the best is kept")
    parser.add_argument("--permutations", type=int, default=200, help="shuffled pairings")
    parser.add_argument("--no-check", action="store_true", help="skip the pair-by-pair check")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(N, LATENT, generator=gen)
    a = make_model(z, LAYERS_A, WIDTH_A, gen)
    b = make_model(z, LAYERS_B, WIDTH_B, gen)
    print(
        f"n={N}, A: {LAYERS_A} layers x {WIDTH_A}, B: {LAYERS_B} layers x {WIDTH_B}, "
        f"{LAYERS_A * LAYERS_B} pairs, {args.permutations} permutations, float32, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    head = f"{'metric':<12}{'load':>6}{'plain s':>9}{'null s':>9}{'ratio':>8}{'cpu ratio':>10}"
    print(f"{head}{'best':>8}{'null max':>10}{'calibrated':>11}{'p':>8}{'load after':>11}")
    for metric, params in METRICS:
        align_layers(a[:1], b[:1], metric, device="cpu", null_permutations=2, **params)  # warm
        load = os.getloadavg()[0]
        t_plain, c_plain, _ = timed(
            lambda m=metric, p=params: align_layers(a, b, m, device="cpu", **p), args.repeats
        )
        t_null, c_null, res = timed(
            lambda m=metric, p=params: align_layers(
                a, b, m, device="cpu", null_permutations=args.permutations, null_mode="raw", **p
            ),
            args.repeats,
        )
        if not args.no_check:
            spot_check(metric, params, a, b, res, seed=0)
        s = res.layer_max
        print(
            f"{metric:<12}{load:>6.2f}{t_plain:>9.3f}{t_null:>9.3f}{t_null / t_plain:>7.1f}x"
            f"{c_null / c_plain:>9.1f}x{s.best:>8.4f}{s.null_max_mean:>10.4f}"
            f"{s.calibrated:>11.4f}{s.p_value:>8.4f}{os.getloadavg()[0]:>11.2f}"
        )


if __name__ == "__main__":
    main()
