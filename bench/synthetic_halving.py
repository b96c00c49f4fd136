"""Benchmark: successive halving against the full (lr, wd) grid, and the paper sweep with each rule.

The same affordable spec (the protocol's 20 (lr, wd) settings, real data, a few U, D_phi and
depths) is run end to end twice, ``selection_rule=exact`` and ``selection_rule=halving``, in
fresh run directories with the 2-worker pool. For every (U, modality) it checks that halving
selects the exact rule's setting, or one whose mean validation accuracy under the exact run is
within ``TOLERANCE`` of the best; it compares the trained model-epochs and the CPU-seconds of
each (``getrusage`` of the workers), and projects the paper preset's sweep with each rule from
the measured model-epochs per CPU-second. The section "Synthetic study: successive halving" of
``bench/RESULTS.md`` is rewritten with the numbers, load averages included.

    .venv/bin/python bench/synthetic_halving.py [--epochs2 32] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
from _results import write_section

from alignlab.experiments import ExecutorConfig, run_study
from alignlab.studies.synthetic import SyntheticStudySpec
from alignlab.studies.synthetic.study import rung_epochs

HEADING = (
    "## Synthetic study: successive halving against the full grid (bench/synthetic_halving.py)"
)
TOLERANCE = 0.002  # mean validation accuracy a different selected setting may lose
PAPER = SyntheticStudySpec()  # the paper preset (the defaults are the protocol)


def bench_spec(epochs1: int, epochs2: int, rule: str) -> SyntheticStudySpec:
    return SyntheticStudySpec(
        uniqueness=[0, 4, 8],
        dphi=[1, 5],
        depths1=[1],
        depths2=[1, 4],
        align_depths1=[1],
        epochs1=epochs1,
        epochs2=epochs2,
        seeds=[0, 1],
        metrics=[{"name": "unbiased_cka"}],
        null_permutations=0,
        selection_rule=rule,
    )


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_rule(spec: SyntheticStudySpec, root: Path) -> dict:
    load = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    outcome = run_study(spec, root / spec.selection_rule, ExecutorConfig(workers=2, quiet=True))
    models = outcome.models
    return {
        "models": models,
        "wall": time.perf_counter() - wall,
        "cpu": cpu_seconds() - cpu,
        "model_epochs": int(models["epochs"].sum()),  # halving resumes: a row's epochs are all
        "load": (load, os.getloadavg()[0]),
    }


def compare(exact: pd.DataFrame, halving: pd.DataFrame) -> pd.DataFrame:
    """Per (U, modality): both selections, and the exact run's mean validation of each."""
    means = exact.groupby(["u", "modality", "lr", "wd"])["val_score"].apply(
        lambda v: v.fillna(0.0).mean()
    )
    rows = []
    for (u, modality), group in exact[exact["selected"]].groupby(["u", "modality"]):
        lr, wd = group[["lr", "wd"]].iloc[0]
        h = halving[halving["selected"] & (halving["u"] == u) & (halving["modality"] == modality)]
        hlr, hwd = h[["lr", "wd"]].iloc[0]
        best, got = means[(u, modality, lr, wd)], means[(u, modality, hlr, hwd)]
        rows.append(
            {
                "u": u,
                "modality": modality,
                "exact": f"{lr:g}, {wd:g}",
                "halving": f"{hlr:g}, {hwd:g}",
                "same": (lr, wd) == (hlr, hwd),
                "loss": best - got,
                "ok": (lr, wd) == (hlr, hwd) or best - got <= TOLERANCE,
            }
        )
    return pd.DataFrame(rows)


def paper_model_epochs(rule: str) -> int:
    """Model-epochs of the paper preset's sweep with ``rule`` (halving: the surviving settings,
    ceil-halved per rung, go on from the previous rung, as ``alignlab.studies.synthetic.study``
    runs it)."""
    n_settings = len(PAPER.lrs) * len(PAPER.wds)
    seeds, us = len(PAPER.seeds), len(PAPER.uniqueness)
    cells = {1: us * len(PAPER.depths1), 2: us * len(PAPER.dphi) * len(PAPER.depths2)}
    total = 0
    for modality, epochs in ((1, PAPER.epochs1), (2, PAPER.epochs2)):
        if rule == "exact":
            per_cell = n_settings * epochs
        else:
            per_cell, alive, done = 0, n_settings, 0
            for budget in rung_epochs(epochs, PAPER.halving_rungs):
                per_cell += alive * (budget - done)
                alive, done = max(1, math.ceil(alive / 2)), budget
        total += cells[modality] * seeds * per_cell
    return total


def report(results: dict, table: pd.DataFrame, spec: SyntheticStudySpec) -> str:
    date = datetime.date.today().isoformat()
    lines = [
        HEADING,
        "",
        f"Run {date} on this machine (2 cores, shared: load averages below), 2 worker processes "
        "of one torch thread. Spec: U {0, 4, 8} x D_phi {1, 5} x D_enc {1, 4}, modality-1 depth "
        f"1, the protocol's 20 (lr, wd) settings x 2 seeds, {spec.epochs1} / {spec.epochs2} "
        f"epochs, 65,536 samples; halving with {spec.halving_rungs} rungs "
        f"(budgets {rung_epochs(spec.epochs2, spec.halving_rungs)} epochs for modality 2).",
        "",
        "| rule | load before / after | wall | CPU-seconds | model-epochs | model-epochs / CPU-s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule, r in results.items():
        lines.append(
            f"| {rule} | {r['load'][0]:.1f} / {r['load'][1]:.1f} | {r['wall']:.0f} s | "
            f"{r['cpu']:.0f} | {r['model_epochs']:,} | {r['model_epochs'] / r['cpu']:.1f} |"
        )
    n_ok, n_same = int(table["ok"].sum()), int(table["same"].sum())
    lines += [
        "",
        f"Selected (lr, wd) per (U, modality): the same in {n_same} of {len(table)}; within "
        f"{TOLERANCE} mean validation accuracy (under the exact run) in {n_ok} of {len(table)}.",
        "",
        "| U | modality | exact | halving | mean val. accuracy lost |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in table.itertuples():
        lines.append(f"| {r.u} | {r.modality} | {r.exact} | {r.halving} | {r.loss:.4f} |")
    rate = results["exact"]["model_epochs"] / results["exact"]["cpu"]
    lines += [
        "",
        "Projection for the `paper` preset (an estimate, not a run), at the exact run's "
        f"{rate:.1f} model-epochs per CPU-second for both rules (halving's lower measured rate "
        "is its extra jobs' fixed cost, small at the paper's epochs), 2 workers, alignment not "
        "included:",
        "",
    ]
    exact_me = paper_model_epochs("exact")
    for rule in results:
        me = paper_model_epochs(rule)
        lines.append(
            f"- {rule}: {me:,} model-epochs ({me / exact_me:.0%} of the exact rule's): "
            f"**{me / rate / 2 / 3600:.1f} h**."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs1", type=int, default=16)
    parser.add_argument("--epochs2", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rule in ("exact", "halving"):
            spec = bench_spec(args.epochs1, args.epochs2, rule)
            results[rule] = run_rule(spec, Path(tmp))
            print(rule, {k: v for k, v in results[rule].items() if k != "models"}, flush=True)
    table = compare(results["exact"]["models"], results["halving"]["models"])
    text = report(results, table, spec)
    print(text)
    if not args.no_write:
        write_section(text, HEADING)


if __name__ == "__main__":
    main()
