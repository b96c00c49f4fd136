"""Benchmark: how often the diagnostic's verdict matches the truth on synthetic data.

The synthetic generator (docs/protocol.md) fixes the truth: with uniqueness U = 8 - r, the label
reads r shared bits and U bits unique to one modality or the other. The paper's finding
(sections 5 and 6, Figure 7): alignment tracks performance when the modalities are redundant
(U = 0, strongly, at every heterogeneity), and the relation fades toward zero, sometimes
negative, as uniqueness grows. The expected verdict, stated before running:

- U in {0, 1, 2}: "tracks";
- U in {6, 7, 8}: anything but "tracks" (a "tracks" there is a false recommendation);
- U in {3, 4, 5}: the transition; reported, not scored.

Scored verdict: direction x2 -> x1, the transformed modality's encoders aligned to modality
1's best model, as the paper's synthetic analyses do. The overall verdict (tracks in some
direction) is reported beside it, and counts as a false recommendation too where it says
"tracks" at U >= 6.

Grid: U in 0..8 x D_phi in {1, 5} (the paper's transform) x seeds, 8,192 samples each (seed s
draws the samples with label_seed 10 + s and splits them with split_seed s), the diagnostic's
budget with seed s. Each run is one ``diagnose`` call with one torch thread. ``--avdigits``
adds the audio-visual digits (image and spoken-digit MFCCs, both flattened; expected: "tracks"
overall, the paper's AVMNIST finding).

    .venv/bin/python bench/diagnostic_verdicts.py [--seeds 5] [--n 8192] [--budget fast]
        [--us 0 1 2 ... 8] [--dphis 1 5] [--avdigits SEEDS] [--only-avdigits] [--no-write]

Writes (replacing an earlier copy) the section "## Diagnostic verdict accuracy
(bench/diagnostic_verdicts.py)" of ``bench/RESULTS.md``; another budget than ``fast`` gets its
own section, the header followed by "(budget NAME)".
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch
from _results import RESULTS, write_section

from alignlab.data.synthetic import SyntheticConfig, build_synthetic
from alignlab.studies.diagnostic.pipeline import DiagnosticSettings, diagnose
from alignlab.studies.diagnostic.verdict import (
    ANTI,
    INCONCLUSIVE,
    NO_ALIGNMENT,
    NO_RELATION,
    TOO_FEW,
    TRACKS,
    UNIQUE,
)

HEADER = "## Diagnostic verdict accuracy (bench/diagnostic_verdicts.py)"
US, DPHIS = tuple(range(9)), (1, 5)
EXPECT = {0: True, 1: True, 2: True, 6: False, 7: False, 8: False}  # U -> expected "tracks"
LABELS = (TRACKS, NO_RELATION, INCONCLUSIVE, NO_ALIGNMENT, UNIQUE, ANTI, TOO_FEW)
SHORT = "tracks / none / inconclusive / no alignment / unique / anti / too few"


def run_one(u: int, dphi: int, seed: int, n: int, budget: str) -> dict:
    config = SyntheticConfig(r=8 - u, dphi=dphi, n_samples=n, label_seed=10 + seed,
                             split_seed=seed)  # fmt: skip
    data = build_synthetic(config, cache=False)
    parts = [data.split(s) for s in ("train", "val", "test")]
    x1, x2, y = (torch.cat([getattr(p, a) for p in parts]) for a in ("x1", "x2", "y"))
    result = diagnose(x1, x2, y, DiagnosticSettings(budget=budget, seed=seed), progress=False)
    d = {r.name: r for r in result.directions}["x2 -> x1"]
    return {
        "u": u, "dphi": dphi, "seed": seed, "label": d.verdict.label,
        "rho": d.metrics[0].spearman.value, "overall": result.overall.label,
        "knn": d.metrics[1].verdict.label if len(d.metrics) > 1 else None,
        "seconds": result.seconds, "share": result.unique["share"],
    }  # fmt: skip


AVDIGITS = dict(n_train=4000, n_val=500, n_test=1500, clips_per_digit=60)


def run_avdigits(seed: int, budget: str) -> dict:
    """The diagnostic on avdigits (:data:`AVDIGITS` images and clips): images and MFCC frames
    flattened, so both modalities train MLP ladders."""
    from alignlab.data.avdigits import AVDigitsConfig, build_avdigits

    config = AVDigitsConfig.preset("ci", **AVDIGITS)
    data = build_avdigits(config)
    parts = [data.split(s) for s in ("train", "val", "test")]
    x1, x2, y = (torch.cat([getattr(p, a) for p in parts]) for a in ("x1", "x2", "y"))
    x1, x2 = x1.reshape(len(x1), -1), x2.reshape(len(x2), -1)
    result = diagnose(x1, x2, y, DiagnosticSettings(budget=budget, seed=seed), progress=False,
                      names=("image", "audio"))  # fmt: skip
    labels = {d.name: d.verdict.label for d in result.directions}
    return {"seed": seed, "overall": result.overall.label, **labels, "seconds": result.seconds,
            "share": result.unique["share"]}  # fmt: skip


def _accuracy(rows: list[dict], key: str) -> tuple[int, int]:
    scored = [r for r in rows if r["u"] in EXPECT]
    hits = sum((r[key] == TRACKS) == EXPECT[r["u"]] for r in scored)
    return hits, len(scored)


def _false_recommendations(rows: list[dict]) -> tuple[int, int]:
    high = [r for r in rows if r["u"] >= 6]
    return sum(TRACKS in (r["label"], r["overall"]) for r in high), len(high)


def _header(budget: str) -> str:
    return HEADER if budget == "fast" else f"{HEADER} (budget {budget})"


def report(rows: list[dict], args, wall: float, avd: list[dict]) -> str:
    us, dphis = args.us, args.dphis
    lines = [_header(args.budget), ""]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    seconds = [r["seconds"] for r in rows + avd] or [float("nan")]
    lines.append(
        f"{stamp}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared;"
        f" load average at the end {load}), torch {torch.__version__}, 1 thread per run. Grid: U "
        f"in {list(us)} x D_phi in {list(dphis)} (paper transform) x {args.seeds} seeds ("
        f"{args.first_seed}-{args.first_seed + args.seeds - 1}), "
        f"{args.n} samples, budget `{args.budget}`; {len(rows) + len(avd)} runs in "
        f"{wall / 60:.1f} min (median {np.median(seconds):.1f} s per run)."
    )
    lines += ["", "Expected verdict (the paper's finding, fixed before running): **tracks** for "
              "U in {0, 1, 2}; **not tracks** for U in {6, 7, 8}; U in {3, 4, 5} is the "
              "transition and is not scored. Scored: direction x2 -> x1 (the transformed "
              "modality's encoders aligned to modality 1's best model); its verdict is gated "
              "(inconclusive / no alignment emerges / unique information), with intervals "
              "Bonferroni-corrected for "
              "2 directions x 2 metrics; the verdict metric is unbiased CKA, mutual kNN's is "
              "counted beside it.", ""]  # fmt: skip
    lines.append(f"| U | D_phi | verdicts x2 -> x1 ({SHORT}) | median rho (CKA) | median "
                 "unique share | expected | correct | overall = tracks | mutual kNN = tracks |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for u in us:
        for dphi in dphis:
            cell = [r for r in rows if r["u"] == u and r["dphi"] == dphi]
            counts = [sum(r["label"] == lab for r in cell) for lab in LABELS]
            rhos = [r["rho"] for r in cell if r["rho"] is not None]
            expected = {True: "tracks", False: "not tracks"}.get(EXPECT.get(u), "(unscored)")
            right = sum((r["label"] == TRACKS) == EXPECT.get(u) for r in cell)
            correct = "-" if u not in EXPECT else f"{right}/{len(cell)}"
            overall = sum(r["overall"] == TRACKS for r in cell)
            median = f"{np.median(rhos):.2f}" if rhos else "-"
            shares = [r["share"] for r in cell if r.get("share") is not None]
            share = f"{np.median(shares):.2f}" if shares else "-"
            knn = sum(r["knn"] == TRACKS for r in cell)
            lines.append(
                f"| {u} | {dphi} | {' / '.join(map(str, counts))} | {median} | {share} | "
                f"{expected} | {correct} | {overall}/{len(cell)} | {knn}/{len(cell)} |"
            )
    hits, total = _accuracy(rows, "label")
    o_hits, _ = _accuracy(rows, "overall")
    false, high = _false_recommendations(rows)
    summary = [] if not total else [
        "", f"**Verdict accuracy (x2 -> x1): {hits}/{total} = {hits / total:.0%}** of "
              f"scored runs; with the overall verdict: {o_hits}/{total} = {o_hits / total:.0%}. "
              f"**False recommendations** (\"tracks\" in x2 -> x1 or overall at U >= 6): "
              f"**{false} of {high}** runs.", ""]  # fmt: skip
    lines += summary
    if avd:
        right = sum(r["overall"] == TRACKS for r in avd)
        size = "{n_train:,} / {n_val:,} / {n_test:,} images, {clips_per_digit} clips per digit"
        lines += [f"avdigits ({size.format(**AVDIGITS)}, flattened; expected overall: tracks):",
                  "",
                  "| seed | image -> audio | audio -> image | overall | unique share | seconds |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for r in avd:
            share = "-" if r["share"] is None else f"{r['share']:.2f}"
            lines.append(f"| {r['seed']} | {r['image -> audio']} | {r['audio -> image']} | "
                         f"{r['overall']} | {share} | {r['seconds']:.0f} |")  # fmt: skip
        lines += ["", f"avdigits: overall \"tracks\" in {right} of {len(avd)} runs.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first..first+seeds-1")
    parser.add_argument("--us", type=int, nargs="+", default=list(US))
    parser.add_argument("--dphis", type=int, nargs="+", default=list(DPHIS))
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--budget", default="fast")
    parser.add_argument("--avdigits", type=int, default=0, metavar="SEEDS",
                        help="add this many avdigits runs")
    parser.add_argument("--only-avdigits", action="store_true", help="skip the synthetic grid")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, start = [], time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + (0 if args.only_avdigits else args.seeds)):
        for u in args.us:
            for dphi in args.dphis:
                row = run_one(u, dphi, seed, args.n, args.budget)
                rows.append(row)
                rho = "undefined" if row["rho"] is None else f"{row['rho']:+.2f}"
                print(f"U={u} D_phi={dphi} seed={seed}: {row['label']:22s} rho {rho} "
                      f"overall {row['overall']} ({row['seconds']:.1f} s) knn {row['knn']}",
                      flush=True)  # fmt: skip
    avd = []
    for seed in range(args.avdigits):
        avd.append(run_avdigits(seed, args.budget))
        print(f"avdigits seed={seed}: {avd[-1]}", flush=True)
    text = report(rows, args, time.perf_counter() - start, avd)
    print("\n" + text)
    if not args.no_write:
        write_section(text, _header(args.budget))
        print(f"wrote the section to {RESULTS}")


if __name__ == "__main__":
    main()
