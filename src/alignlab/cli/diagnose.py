"""``alignlab diagnose``: should I align these modalities?"""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli._common import console, out_path, user_errors, write_json_atomic


# -- the practitioner's diagnostic ------------------------------------------------------------
def _print_diagnostic(result) -> None:
    """One rich table per direction, its verdict and caveats, then the overall verdict."""
    from rich.table import Table

    def corr(c) -> str:
        if c.value is None:
            return f"undefined: {c.reason}"
        return f"{c.value:.2f}" + ("" if c.low is None else f" [{c.low:.2f}, {c.high:.2f}]")

    for d in result.directions:
        ref = d.reference
        table = Table(
            title=f"{d.name}: {d.n_models} {d.modality} models vs the best {d.reference_modality} "
            f"model (depth {ref['depth']}, test {ref['test_score']:.3f})"
        )
        for name in ("metric", "ρ(align, perf)", "r(align, perf)", "ρ(depth, align)",
                     "max align", "verdict"):  # fmt: skip
            table.add_column(name, justify="left" if name in ("metric", "verdict") else "right")
        for m in d.metrics:
            best = "-" if m.max_alignment is None else f"{m.max_alignment:.3f}"
            table.add_row(m.metric, corr(m.spearman), corr(m.pearson), corr(m.depth_alignment),
                          best, m.verdict.label)  # fmt: skip
        console.print(table)
        s = d.test_scores
        by_depth = ", ".join(f"{k}: {v:.3f}" for k, v in s["by_depth"].items())
        console.print(
            f"ρ(depth, perf) {corr(d.depth_performance)}; {d.modality} test score: "
            f"best-val model {s['best']:.3f}, max {s['max']:.3f}; by depth {by_depth}",
            highlight=False,
        )
        console.print(f"[bold]verdict:[/] {d.verdict.sentence}", highlight=False)
        for c in d.caveats:
            console.print(f"  [yellow]note:[/] {c}", highlight=False)
    from alignlab.analysis.diagnostic_report import unique_sentence

    unique = unique_sentence(result.unique, result.settings.max_unique_share)
    if unique is not None:
        console.print(f"unique information: {unique}", highlight=False)
    console.print(f"[bold]overall:[/] {result.overall.sentence}", highlight=False)


def _diagnostic_arrays(x1, x2, y, table, x1_cols, x2_cols, y_col):
    """(x1, x2, y, default names) from .npy files or from columns of a table."""
    from alignlab.studies.diagnostic.inputs import load_array, load_table

    arrays_given = [p is not None for p in (x1, x2, y)]
    if table is not None:
        if any(arrays_given):
            raise ValueError("give either --x1/--x2/--y files or --table with columns, not both")
        if None in (x1_cols, x2_cols, y_col):
            raise ValueError("--table needs --x1-cols, --x2-cols and --y-col")
        return (*load_table(table, x1_cols, x2_cols, y_col), ("x1", "x2"))
    options = (("--x1-cols", x1_cols), ("--x2-cols", x2_cols), ("--y-col", y_col))
    given = [option for option, value in options if value]
    if given:
        raise ValueError(
            f"{', '.join(given)} name columns of a --table; give --table too, or drop them"
        )
    if not all(arrays_given):
        raise ValueError("give --x1, --x2 and --y (.npy files), or --table with its columns")
    names = (x1.stem, x2.stem) if x1.stem != x2.stem else ("x1", "x2")
    return load_array(x1, "x1"), load_array(x2, "x2"), load_array(y, "y"), names


def diagnose_cmd(
    x1: Path | None = typer.Option(None, "--x1", help="Modality 1, .npy/.npz of shape (n, d1)."),
    x2: Path | None = typer.Option(None, "--x2", help="Modality 2, (n, d2), the same samples."),
    y: Path | None = typer.Option(None, "--y", help="Labels (integers) or targets (floats), (n,)."),
    table: Path | None = typer.Option(None, help="Or a Parquet/CSV table holding all three."),
    x1_cols: str | None = typer.Option(None, "--x1-cols", help="Table columns of modality 1: "
                                       "comma list of names or globs, e.g. 'img_*'."),
    x2_cols: str | None = typer.Option(None, "--x2-cols", help="Table columns of modality 2."),
    y_col: str | None = typer.Option(None, "--y-col", help="Table column of the label."),
    names: str | None = typer.Option(None, help="Modality names 'a,b' (default: file names)."),
    budget: str = typer.Option("default", help="fast, default or thorough: time vs precision."),
    task: str = typer.Option("auto", help="auto, classification or regression."),
    out: Path = typer.Option(Path("diagnostic"), help="Report folder: index.html, models.csv."),
    json_path: Path | None = typer.Option(None, "--json", help="Default OUT/diagnostic.json."),
    seed: int = typer.Option(0, help="Seed of splits, initialisations, nulls and bootstrap."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:  # fmt: skip
    """Should I align these modalities? Does alignment track performance on this data?"""
    from alignlab._io import check_writable
    from alignlab.analysis.diagnostic_report import write_diagnostic_report
    from alignlab.studies.diagnostic.pipeline import DiagnosticSettings, diagnose

    with user_errors():
        settings = DiagnosticSettings(budget=budget, task=task, seed=seed)
        out = out.expanduser()
        json_path = out_path(json_path) or out / "diagnostic.json"
        check_writable(out, "folder")  # before minutes of training, not after
        check_writable(json_path, "file")
        a1, a2, labels, default_names = _diagnostic_arrays(
            x1, x2, y, table, x1_cols, x2_cols, y_col
        )
        pair = tuple(n.strip() for n in names.split(",")) if names else default_names
        if len(pair) != 2 or not all(pair) or pair[0] == pair[1]:
            raise ValueError(
                f"--names must be two different names like 'image,audio', got {names!r}"
            )
        result = diagnose(a1, a2, labels, settings, progress=not quiet, names=pair)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(json_path, result.to_dict())
        index = write_diagnostic_report(result, out)
    _print_diagnostic(result)
    console.print(f"{result.seconds:.0f} s; JSON {json_path}; report {index}", highlight=False)


