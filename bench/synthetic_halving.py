"""Benchmark: the fast selection rules against the full (lr, wd) grid; the paper sweep with each.

``validate`` runs the same affordable spec (the protocol's 20 (lr, wd) settings, real data, a
few U, D_phi and depths) end to end once per rule in fresh run directories with the 2-worker
pool: ``exact``, ``halving`` (5 rungs) and ``fast`` (5-rung halving on the first seed only,
``search_seeds=1``, the selected setting then trained on the other seeds, plus patience). For
every (U, modality) it checks that each fast rule selects the exact rule's setting, or one whose
mean validation accuracy under the exact run is within ``TOLERANCE`` of the best, compares the
findings' statistics (``alignlab.analysis.paper_findings``) where the grid can test them, the
trained model-epochs and the CPU-seconds (``getrusage`` of the workers), and projects the paper
preset's sweep from the measured model-epochs per CPU-second.

``fraction`` runs a fixed fraction of the paper grid itself end to end (U {0, 8} x D_phi {1, 5,
9}, for the exact rule U {0} x D_phi {5}; all 10 D_enc and modality-1 depths, the paper's 5
seeds, the 20 settings, 50 / 300 epochs, the paper's alignment with its null), with each rule
asked for, and projects the whole sweep from its wall time. All 5 seeds, because a rung's
population is its surviving settings times the seeds, and a member-step of the PyTorch step in a
population of 1-3 costs 2-5x one of 100 (``bench/synthetic_floor.py --members``): a one-seed
fraction prices the late rungs at populations the paper grid never has. The paper grid has ``S``
times the fraction's model-epochs under the same rule (patience aside), so the projection is the
fraction's wall time times ``S``; patience's saving is inside the measured time, assumed to be
the same share on the rest of the grid.

Each writes its own section of ``bench/RESULTS.md``, load averages included.

    .venv/bin/python bench/synthetic_halving.py validate [--epochs2 32] [--no-write]
    .venv/bin/python bench/synthetic_halving.py fraction [--rules fast halving] [--no-write]
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

from alignlab.analysis import figure_data as fd
from alignlab.analysis.paper_findings import paper_findings
from alignlab.experiments import ExecutorConfig, run_study
from alignlab.studies.synthetic import SyntheticStudySpec
from alignlab.studies.synthetic.study import rung_epochs

HEADING = (
    "## Synthetic study: successive halving against the full grid (bench/synthetic_halving.py)"
)
FRACTION_HEADING = (
    "## Synthetic study: the paper grid's rules measured on a fraction of it "
    "(bench/synthetic_halving.py fraction)"
)
TOLERANCE = 0.002  # mean validation accuracy a different selected setting may lose
PAPER = SyntheticStudySpec()  # the paper preset (the defaults are the protocol)
FAST_SEARCH_SEEDS = 1  # fast: the settings are compared on the first seed's members
PAPER_PATIENCE = 50  # epochs without a better validation accuracy (1/6 of modality 2's 300)


def rule_fields(rule: str, epochs2: int) -> dict:
    """Spec fields of a rule; ``fast``'s patience is 1/6 of modality 2's epochs."""
    if rule == "exact":
        return {"selection_rule": "exact"}
    if rule == "halving":
        return {"selection_rule": "halving"}
    patience = max(1, round(PAPER_PATIENCE * epochs2 / PAPER.epochs2))
    return {"selection_rule": "halving", "search_seeds": FAST_SEARCH_SEEDS, "patience": patience}


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
        **rule_fields(rule, epochs2),
    )


FRACTION = {"uniqueness": [0, 8], "dphi": [1, 5, 9]}
# the exact rule trains every setting to the end: one cell of the 90 is 350,000 model-epochs
EXACT_FRACTION = {"uniqueness": [0], "dphi": [5]}


def fraction_spec(rule: str) -> SyntheticStudySpec:
    """The fixed fraction of the paper grid for ``rule``: U {0, 8} x D_phi {1, 5, 9} (the exact
    rule: U {0} x D_phi {5}), the rest the paper's."""
    cells = EXACT_FRACTION if rule == "exact" else FRACTION
    return SyntheticStudySpec(**cells, **rule_fields(rule, 300))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_rule(spec: SyntheticStudySpec, root: Path, rule: str) -> dict:
    load = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    outcome = run_study(spec, root / rule, ExecutorConfig(workers=2, quiet=True))
    wall = time.perf_counter() - wall
    models = outcome.models
    return {
        "models": models,
        "alignments": outcome.tables.get("alignments"),
        "wall": wall,
        "align_wall": align_seconds(outcome.run_dir),
        "cpu": cpu_seconds() - cpu,
        # epochs each member trained (patience stops some; halving resumes: a row's are all)
        "model_epochs": int(models["epochs_run" if "epochs_run" in models else "epochs"].sum()),
        "load": (load, os.getloadavg()[0]),
    }


def align_seconds(run_dir: Path) -> float:
    """Wall seconds of the align phase: from the last stored train job to the last align job."""
    last = {
        phase: max(f.stat().st_mtime for f in (run_dir / "jobs" / phase).iterdir())
        for phase in ("train", "align")
    }
    return last["align"] - last["train"]


def align_scale(spec: SyntheticStudySpec) -> float:
    """The paper grid's alignment work over ``spec``'s: align jobs (U x D_phi) times seeds."""
    jobs = len(spec.uniqueness) * len(spec.dphi) * len(spec.seeds)
    return len(PAPER.uniqueness) * len(PAPER.dphi) * len(PAPER.seeds) / jobs


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


def nominal_model_epochs(spec: SyntheticStudySpec) -> int:
    """Model-epochs of ``spec``'s sweep without patience (halving: the surviving settings,
    ceil-halved per rung, go on from the previous rung, as ``alignlab.studies.synthetic.study``
    runs it; ``search_seeds``: the search on those seeds, the selected setting on the rest)."""
    n_settings = len(spec.lrs) * len(spec.wds)
    rest = len(spec.completion_seeds)
    seeds, us = len(spec.seeds) - rest, len(spec.uniqueness)
    cells = {1: us * len(spec.depths1), 2: us * len(spec.dphi) * len(spec.depths2)}
    total = 0
    for modality, epochs in ((1, spec.epochs1), (2, spec.epochs2)):
        if spec.selection_rule == "exact":
            per_cell = n_settings * epochs
        else:
            per_cell, alive, done = 0, n_settings, 0
            for budget in rung_epochs(epochs, spec.halving_rungs):
                per_cell += alive * (budget - done)
                alive, done = max(1, math.ceil(alive / 2)), budget
        total += cells[modality] * (seeds * per_cell + rest * epochs)
    return total


def paper_model_epochs(rule: str) -> int:
    """Model-epochs of the paper preset's sweep with ``rule``, patience aside."""
    return nominal_model_epochs(PAPER.model_copy(update=rule_fields(rule, PAPER.epochs2)))


def findings_agreement(exact: pd.DataFrame, other: pd.DataFrame) -> list[dict]:
    """Per testable finding: both rules' outcomes and main statistics, and whether the other
    rule's value lies within the exact rule's interval."""
    mine, theirs = _findings(exact), _findings(other)
    rows = []
    for figure, f in mine.items():
        g = theirs[figure]
        if f.main is None or f.main.value is None or g.main is None or g.main.value is None:
            continue
        inside = f.main.low is not None and f.main.low <= g.main.value <= f.main.high
        rows.append({"figure": figure, "exact": f.outcome, "other": g.outcome,
                     "exact_stat": f.main, "other_stat": g.main, "inside": inside})  # fmt: skip
    return rows


def _findings(alignments: pd.DataFrame) -> dict:
    points = fd.select_points(alignments, "unbiased_cka", None, what="findings")
    correlations = fd.correlation_table(points, n_boot=1000)
    found = paper_findings(points, fd.max_alignment(points), correlations, 1000)
    return {f.figure: f for f in found}


def _stat(c) -> str:
    return f"{c.value:.2f}" + ("" if c.low is None else f" [{c.low:.2f}, {c.high:.2f}]")


def report(results: dict, tables: dict, spec: SyntheticStudySpec, agree: dict) -> str:
    date = datetime.date.today().isoformat()
    fast = rule_fields("fast", spec.epochs2)
    lines = [
        HEADING,
        "",
        f"Run {date} on this machine (2 cores, shared: load averages below), 2 worker processes "
        "of one torch thread. Spec: U {0, 4, 8} x D_phi {1, 5} x D_enc {1, 4}, modality-1 depth "
        f"1, the protocol's 20 (lr, wd) settings x 2 seeds, {spec.epochs1} / {spec.epochs2} "
        f"epochs, 65,536 samples. Rules: `halving` with {PAPER.halving_rungs} rungs (budgets "
        f"{rung_epochs(spec.epochs2, PAPER.halving_rungs)} epochs for modality 2); `fast`: the "
        "same halving on the first seed's members only (`search_seeds = 1`), the selected "
        f"setting then trained on the other seed, and patience {fast['patience']} epochs (1/6 "
        f"of modality 2's, as {PAPER_PATIENCE} of 300).",
        "",
        "| rule | load before / after | wall | CPU-seconds | model-epochs | model-epochs / CPU-s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule, r in results.items():
        lines.append(
            f"| {rule} | {r['load'][0]:.1f} / {r['load'][1]:.1f} | {r['wall']:.0f} s | "
            f"{r['cpu']:.0f} | {r['model_epochs']:,} | {r['model_epochs'] / r['cpu']:.1f} |"
        )
    for rule, table in tables.items():
        n_ok, n_same = int(table["ok"].sum()), int(table["same"].sum())
        lines += [
            "",
            f"`{rule}` against `exact`, selected (lr, wd) per (U, modality): the same in {n_same} "
            f"of {len(table)}; within {TOLERANCE} mean validation accuracy (under the exact run) "
            f"in {n_ok} of {len(table)}.",
            "",
            f"| U | modality | exact | {rule} | mean val. accuracy lost |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in table.itertuples():
            lines.append(f"| {r.u} | {r.modality} | {r.exact} | {r.halving} | {r.loss:.4f} |")
    for rule, rows in agree.items():
        inside = sum(r["inside"] for r in rows)
        lines += [
            "",
            f"Findings (`alignlab.analysis.paper_findings`, unbiased CKA) testable on this grid, "
            f"`{rule}` against `exact`: the main statistic of `{rule}` lies within the exact "
            f"run's 95% interval for {inside} of {len(rows)}.",
            "",
            f"| finding | exact: outcome, statistic | {rule}: outcome, statistic | inside |",
            "| --- | --- | --- | --- |",
        ]
        for r in rows:
            lines.append(
                f"| {r['figure']} | {r['exact']}, {_stat(r['exact_stat'])} | {r['other']}, "
                f"{_stat(r['other_stat'])} | {'yes' if r['inside'] else 'no'} |"
            )
    rate = results["exact"]["model_epochs"] / results["exact"]["cpu"]
    lines += [
        "",
        "Projection for the `paper` preset (an estimate, not a run), at the exact run's "
        f"{rate:.1f} model-epochs per CPU-second for every rule, 2 workers, alignment not "
        "included, the paper's nominal model-epochs (patience's saving is not projected here; "
        "the fraction section measures it, and the cost of a model-epoch at the paper's depths):",
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


def validate(args) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rule in ("exact", "halving", "fast"):
            spec = bench_spec(args.epochs1, args.epochs2, rule)
            results[rule] = run_rule(spec, Path(tmp), rule)
            print(rule, {k: v for k, v in results[rule].items()
                         if k not in ("models", "alignments")}, flush=True)  # fmt: skip
    exact = results["exact"]
    tables = {r: compare(exact["models"], results[r]["models"]) for r in ("halving", "fast")}
    agree = {r: findings_agreement(exact["alignments"], results[r]["alignments"])
             for r in ("halving", "fast")}  # fmt: skip
    text = report(results, tables, bench_spec(args.epochs1, args.epochs2, "exact"), agree)
    print(text)
    if not args.no_write:
        write_section(text, HEADING)


def fraction(args) -> None:
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        FRACTION_HEADING,
        "",
        f"Run {date} on this machine (2 cores, shared), 2 worker processes of one torch thread. "
        "The fraction: U {0, 8} x D_phi {1, 5, 9} (the exact rule, which trains every setting to "
        "the end: U {0} x D_phi {5}) x D_enc 1-10 (modality 1: depths 1-10), the "
        "paper's 5 seeds (a rung's population is its settings x the seeds, as in the paper "
        "grid), the protocol's 20 (lr, wd) settings, 50 / 300 epochs, 65,536 samples, alignment "
        "with the paper's metrics, modality-1 depths and 200-permutation null: end to end, as "
        "`alignlab run synthetic` runs it. The train phase's wall time is multiplied by S = the "
        "paper grid's model-epochs / the fraction's under the same rule (patience aside), the "
        "align phase's by A = the paper's align jobs x seeds / the fraction's; the CPU-second "
        "column multiplies half the CPU-seconds (2 workers; less sensitive to other load) by S.",
        "",
        "| rule | cells (U x D_phi) | load before / after | wall (align) | CPU-seconds "
        "| model-epochs trained | nominal | S | A | paper sweep from wall | from CPU-seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for rule in args.rules:
            spec = fraction_spec(rule)
            r = run_rule(spec, Path(tmp), rule)
            nominal = nominal_model_epochs(spec)
            scale, a_scale = paper_model_epochs(rule) / nominal, align_scale(spec)
            train = r["wall"] - r["align_wall"]
            hours = (train * scale + r["align_wall"] * a_scale) / 3600
            cpu_hours = r["cpu"] / 2 * scale / 3600
            print(rule, r["wall"], r["align_wall"], r["cpu"], r["model_epochs"], nominal, scale,
                  flush=True)  # fmt: skip
            cells = f"{len(spec.uniqueness)} x {len(spec.dphi)}"
            lines.append(
                f"| {rule} | {cells} | {r['load'][0]:.1f} / {r['load'][1]:.1f} | {r['wall']:.0f} s "
                f"({r['align_wall']:.0f} s) | {r['cpu']:.0f} | {r['model_epochs']:,} | "
                f"{nominal:,} | {scale:.0f} | {a_scale:.0f} | **{hours:.1f} h** | "
                f"{cpu_hours:.1f} h |"
            )
    fields = rule_fields("fast", PAPER.epochs2)
    lines += [
        "",
        f"`fast` = successive halving with {PAPER.halving_rungs} rungs on the first seed "
        f"(`search_seeds = {FAST_SEARCH_SEEDS}`), the selected setting then trained on the other "
        f"4, and patience {fields['patience']}; `halving` = {PAPER.halving_rungs} rungs on every "
        "seed, no patience.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text, FRACTION_HEADING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="every rule on an affordable grid, against exact")
    v.add_argument("--epochs1", type=int, default=16)
    v.add_argument("--epochs2", type=int, default=32)
    f = sub.add_parser("fraction", help="a fixed fraction of the paper grid, projected")
    f.add_argument("--rules", nargs="+", default=["fast"], choices=["exact", "halving", "fast"])
    for p in (v, f):
        p.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    args = parser.parse_args()
    validate(args) if args.command == "validate" else fraction(args)


if __name__ == "__main__":
    main()
