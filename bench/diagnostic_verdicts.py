"""Benchmark: how often the diagnostic's verdict matches the truth on synthetic data.

The synthetic generator (PROTOCOL.md) fixes the truth: with uniqueness U = 8 - r, the label
reads r shared bits and U bits unique to one modality or the other. The paper's finding
(sections 5 and 6, Figure 7): alignment tracks performance when the modalities are redundant
(U = 0, strongly, at every heterogeneity), and the relation fades toward zero, sometimes
negative, as uniqueness grows. The expected verdict, stated before running:

- U in {0, 2}: "tracks";
- U in {6, 8}: anything but "tracks" (no reliable relation or anti-correlates);
- U = 4: the transition; reported, not scored.

Scored verdict: direction x2 -> x1, the transformed modality's encoders aligned to modality
1's best model, as the paper's synthetic analyses do. The overall verdict (tracks in some
direction) is reported beside it.

Grid: U in {0, 2, 4, 6, 8} x D_phi in {1, 5} (the paper's transform) x seeds, 8,192 samples
each (seed s draws the samples with label_seed 10 + s and splits them with split_seed s), the
diagnostic's fast budget with seed s. Each run is one ``diagnose`` call with one torch thread.

    .venv/bin/python bench/diagnostic_verdicts.py [--seeds 5] [--n 8192] [--budget fast]
        [--us 0 2 4 6 8] [--dphis 1 5] [--no-write]

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
from pathlib import Path

import numpy as np
import torch

from alignlab.data.synthetic import SyntheticConfig, build_synthetic
from alignlab.studies.diagnostic.pipeline import DiagnosticSettings, diagnose
from alignlab.studies.diagnostic.verdict import TRACKS

HEADER = "## Diagnostic verdict accuracy (bench/diagnostic_verdicts.py)"
RESULTS = Path(__file__).with_name("RESULTS.md")
US, DPHIS = (0, 2, 4, 6, 8), (1, 5)
EXPECT = {0: True, 2: True, 6: False, 8: False}  # U -> expected "tracks"; U = 4 unscored


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
        "seconds": result.seconds,
    }  # fmt: skip


def _accuracy(rows: list[dict], key: str) -> tuple[int, int]:
    scored = [r for r in rows if r["u"] in EXPECT]
    hits = sum((r[key] == TRACKS) == EXPECT[r["u"]] for r in scored)
    return hits, len(scored)


def _header(budget: str) -> str:
    return HEADER if budget == "fast" else f"{HEADER} (budget {budget})"


def report(rows: list[dict], args, wall: float) -> str:
    us, dphis = args.us, args.dphis
    lines = [_header(args.budget), ""]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines.append(
        f"{stamp}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared),"
        f" torch {torch.__version__}, 1 thread per run. Grid: U in {list(us)} x D_phi in "
        f"{list(dphis)} (paper transform) x {args.seeds} seeds, {args.n} samples, budget "
        f"`{args.budget}`; {len(rows)} runs in {wall / 60:.1f} min "
        f"(median {np.median([r['seconds'] for r in rows]):.1f} s per run)."
    )
    lines += ["", "Expected verdict (the paper's finding, fixed before running): **tracks** for "
              "U in {0, 2}; **not tracks** for U in {6, 8}; U = 4 is the transition and is not "
              "scored. Scored: direction x2 -> x1 (the transformed modality's encoders aligned "
              "to modality 1's best model), verdict metric unbiased CKA.", ""]  # fmt: skip
    lines.append("| U | D_phi | verdicts x2 -> x1 (tracks / none / anti / too few) | median rho "
                 "| expected | correct | overall = tracks | mutual kNN = tracks |")  # fmt: skip
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for u in us:
        for dphi in dphis:
            cell = [r for r in rows if r["u"] == u and r["dphi"] == dphi]
            labels = (TRACKS, "no reliable relation", "anti-correlates", "too few models")
            counts = [sum(r["label"] == lab for r in cell) for lab in labels]
            rhos = [r["rho"] for r in cell if r["rho"] is not None]
            expected = {True: "tracks", False: "not tracks"}.get(EXPECT.get(u), "(unscored)")
            right = sum((r["label"] == TRACKS) == EXPECT.get(u) for r in cell)
            correct = "-" if u not in EXPECT else f"{right}/{len(cell)}"
            overall = sum(r["overall"] == TRACKS for r in cell)
            knn = sum(r["knn"] == TRACKS for r in cell)
            lines.append(
                f"| {u} | {dphi} | {' / '.join(map(str, counts))} | "
                f"{np.median(rhos) if rhos else float('nan'):.2f} | {expected} | {correct} | "
                f"{overall}/{len(cell)} | {knn}/{len(cell)} |"
            )
    hits, total = _accuracy(rows, "label")
    o_hits, _ = _accuracy(rows, "overall")
    k_hits, _ = _accuracy(rows, "knn")
    lines += ["", f"**Verdict accuracy (x2 -> x1, unbiased CKA): {hits}/{total} = "
              f"{hits / total:.0%}** of scored runs. With the overall verdict instead: "
              f"{o_hits}/{total} = {o_hits / total:.0%}; with mutual kNN (k = 10) as the verdict "
              f"metric: {k_hits}/{total} = {k_hits / total:.0%}.", ""]  # fmt: skip
    return "\n".join(lines)


def write_section(text: str, header: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; read just before writing."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if f"{header}\n" in old:
        start = old.index(f"{header}\n")
        nxt = old.find("\n## ", start + len(header))
        old = old[:start] + (old[nxt + 1 :] if nxt >= 0 else "")
    RESULTS.write_text(old.rstrip("\n") + "\n\n" + text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--us", type=int, nargs="+", default=list(US))
    parser.add_argument("--dphis", type=int, nargs="+", default=list(DPHIS))
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--budget", default="fast")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, start = [], time.perf_counter()
    for seed in range(args.seeds):
        for u in args.us:
            for dphi in args.dphis:
                row = run_one(u, dphi, seed, args.n, args.budget)
                rows.append(row)
                rho = "undefined" if row["rho"] is None else f"{row['rho']:+.2f}"
                print(f"U={u} D_phi={dphi} seed={seed}: {row['label']:22s} rho {rho} "
                      f"overall {row['overall']} ({row['seconds']:.1f} s)", flush=True)  # fmt: skip
    text = report(rows, args, time.perf_counter() - start)
    print("\n" + text)
    if not args.no_write:
        write_section(text, _header(args.budget))
        print(f"wrote the section to {RESULTS}")


if __name__ == "__main__":
    main()
