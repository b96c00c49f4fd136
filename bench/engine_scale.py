"""Benchmark: the all-layer-pairs engine at scale, against the Gram floor measured in the same run.

Workload of ``bench/metrics_pairs.py`` (models of 12 layers x 768 and 24 layers x 1024, seeded
features with shared structure). The "Gram floor" is the 36 Gram matrices ``x @ x.T`` alone,
one layer at a time: no engine can do less for exact mutual kNN or CKA with ``d`` close to
``n``.

- ``small`` (n = 1024, one process): the floor; mutual kNN (k = 10) and linear CKA in one
  ``align_layers_multi`` call; the two separate ``align_layers`` calls; and the per-pair loop of
  the single-pair functions (288 pairs each). Best of ``--repeats`` for all but the loop.
- ``large`` (n = 16,384 by default): the floor and the streamed ``align_layers_multi`` call each
  in a fresh child process, which reports its wall time, its peak resident memory
  (``ru_maxrss``) and its memory once the features were made; the engine's child then checks
  the best pair against the single-pair functions.

The load average (``/proc/loadavg``) is printed beside every timing: the machine may be shared.

    .venv/bin/python bench/engine_scale.py small [--repeats 3]
    .venv/bin/python bench/engine_scale.py large [--n 16384] [--budget 1.5GB]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics_pairs import LATENT, LAYERS_A, LAYERS_B, WIDTH_A, WIDTH_B, loop_best, make_model

from alignlab.metrics import align_layers, align_layers_multi, cka, mutual_knn
from alignlab.metrics._reduce import gram

SPECS = {"mutual_knn": {"k": 10}, "cka": {}}


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def features(n: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, LATENT, generator=gen)
    return make_model(z, LAYERS_A, WIDTH_A, gen), make_model(z, LAYERS_B, WIDTH_B, gen)


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def grams(layers: list[torch.Tensor]) -> None:
    for x in layers:
        g = gram(x)  # (n, n), freed before the next
        del g


def small(repeats: int) -> None:
    a, b = features(1024)
    print(
        f"n=1024, {LAYERS_A}x{WIDTH_A} vs {LAYERS_B}x{WIDTH_B}, {torch.get_num_threads()} thread(s)"
    )
    grams(a[:1])  # warm-up
    align_layers_multi(a[:1], b[:1], SPECS, device="cpu")
    rows = []
    l0 = load()
    t_gram, _ = best_of(lambda: grams(a + b), repeats)
    rows.append(("36 Gram matrices (floor)", t_gram, l0, load()))
    l0 = load()
    t_multi, res = best_of(lambda: align_layers_multi(a, b, SPECS, device="cpu"), repeats)
    rows.append(("align_layers_multi: mutual_knn + cka", t_multi, l0, load()))
    l0 = load()
    t_sep, _ = best_of(
        lambda: [align_layers(a, b, m, device="cpu", **p) for m, p in SPECS.items()], repeats
    )
    rows.append(("align_layers x 2 (separate calls)", t_sep, l0, load()))
    for metric, params in SPECS.items():
        l0 = load()
        t0 = time.perf_counter()
        best, pair = loop_best(metric, params, a, b)
        t_loop = time.perf_counter() - t0
        rows.append((f"per-pair loop: {metric} (288 pairs)", t_loop, l0, load()))
        got = res[metric]
        assert math.isclose(got.best, best, rel_tol=1e-5, abs_tol=1e-6), (metric, got.best, best)
        if metric == "mutual_knn":
            assert (got.best, got.best_pair) == (best, pair)
    print(f"{'what':<40}{'s':>8}{'x floor':>9}{'load before/after':>20}")
    for name, t, lb, la in rows:
        print(f"{name:<40}{t:>8.3f}{t / t_gram:>8.2f}x{lb:>11} / {la}")
    print(f"best: mutual_knn {res['mutual_knn'].best:.4f} at {res['mutual_knn'].best_pair}, "
          f"cka {res['cka'].best:.4f} at {res['cka'].best_pair}")  # fmt: skip


def child(kind: str, n: int, budget: str) -> None:
    """One measurement in this (fresh) process; one JSON line on stdout."""
    a, b = features(n)
    feat = sum(x.numel() * x.element_size() for x in a + b)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    l0 = load()
    t0 = time.perf_counter()
    out: dict = {}
    if kind == "gram":
        grams(a + b)
    else:
        res = align_layers_multi(a, b, SPECS, device="cpu", memory_budget=budget)
        out = {m: [r.best, list(r.best_pair)] for m, r in res.items()}
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    info = {"kind": kind, "wall": wall, "peak": peak, "rss_features": rss0, "features": feat}
    info |= {"load_before": l0, "load_after": load(), "best": out}
    if kind == "engine":  # the best pairs again, by the single-pair functions
        (i, j) = out["mutual_knn"][1]
        info["check_knn"] = mutual_knn(a[i], b[j], k=10) == out["mutual_knn"][0]
        (i, j) = out["cka"][1]
        info["check_cka"] = abs(cka(a[i], b[j]) - out["cka"][0])
    print(json.dumps(info))


def large(n: int, budget: str) -> None:
    print(
        f"n={n}, {LAYERS_A}x{WIDTH_A} vs {LAYERS_B}x{WIDTH_B}, 1 thread per child, budget {budget}"
    )
    results = {}
    for kind in ("gram", "engine"):
        cmd = [sys.executable, __file__, "child", kind, "--n", str(n), "--budget", budget]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[kind]
        print(
            f"{kind:<7} {r['wall']:8.1f} s  peak {r['peak'] / 1e9:.2f} GB (features "
            f"{r['features'] / 1e9:.2f} GB; {r['rss_features'] / 1e9:.2f} GB after making them), "
            f"load {r['load_before']} / {r['load_after']}"
        )
    g, e = results["gram"], results["engine"]
    extra = (e["peak"] - e["features"]) / 1e9
    print(f"time engine / floor: {e['wall'] / g['wall']:.2f}x; engine peak - features: "
          f"{extra:.2f} GB; best {e['best']}; checks: kNN equal {e['check_knn']}, "
          f"CKA diff {e['check_cka']:.1e}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["small", "large", "child"])
    parser.add_argument("kind", nargs="?", default="engine", help="child only: gram or engine")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--budget", default="1.5GB", help="memory_budget of the large run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (house rule: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case == "small":
        small(args.repeats)
    elif args.case == "large":
        large(args.n, args.budget)
    else:
        child(args.kind, args.n, args.budget)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
