"""The HTML report of a run: ``RUN_DIR/report/index.html``, self-contained and offline.

The page embeds every figure as a base64 PNG, so the one file opens from the file system with
nothing else; the PNG and SVG files and the tables behind the page (CSV) are written beside it::

    report/index.html
    report/figures/<name>.png, <name>.svg
    report/tables/summary.csv, maxima.csv, correlations.csv

Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import yaml

from alignlab._io import remove_temporary
from alignlab.analysis import chance as ch
from alignlab.analysis import figure_data as fd
from alignlab.analysis import tables as t
from alignlab.analysis.convergence import REQUIRED, convergence_summary, undertrained_modalities
from alignlab.analysis.figures import RenderedFigure, render_figures
from alignlab.analysis.narrative import findings, selection_sentence, summary_by_u
from alignlab.analysis.page import (
    _atomic_write,
    _environment_html,
    _figures_section_html,
    _html_document,
    _table_html,
    _write_figure_files,
)
from alignlab.analysis.paper_findings import findings_sentence, findings_table, paper_findings
from alignlab.stats import Median


def _flat(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with each Median column split into value, low, high and n columns."""
    out = summary.copy()
    for col in [c for c in out.columns if len(out) and isinstance(out[c].iloc[0], Median)]:
        for part in ("value", "low", "high", "n"):
            out[f"{col}_{part}"] = [getattr(m, part) for m in out[col]]
        out = out.drop(columns=col)
    return out


# columns that rank models by accuracy: marked, not stated, when modality 2 is undertrained
BY_ACCURACY = ("ap_spearman", "ap_pearson", "dp_spearman")


def _summary_html(summary: pd.DataFrame, withheld: bool = False) -> str:
    """The per-U summary table; with ``withheld``, the columns that rank models by accuracy
    are headed "not stated" (their numbers kept for the reader, not used by the text)."""
    heads = ["U", "max alignment", "at (D_phi, D_enc)", "points"]
    medians = [
        ("ap_spearman", "median ρ(alignment, performance) [95% CI] (n D_phi)"),
        ("ap_pearson", "median r(alignment, performance) [95% CI]"),
        ("dp_spearman", "median ρ(depth, performance) [95% CI] (n)"),
        ("ad_spearman", "median ρ(alignment, depth) [95% CI] (n)"),
    ]
    medians = [m for m in medians if m[0] in summary.columns]
    mark = " (not stated: undertrained)"
    heads += [h + (mark if withheld and c in BY_ACCURACY else "") for c, h in medians]
    rows = []
    for r in summary.itertuples():
        cells = [str(r.u), f"{r.max_score:.3f}", f"({r.max_dphi}, {r.max_depth2})", str(r.n_points)]
        cells += [str(getattr(r, c)) for c, _ in medians]
        rows.append("".join(f'<td class="num">{html.escape(c)}</td>' for c in cells))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def training_summary(models: pd.DataFrame) -> pd.DataFrame:
    """Per (u, modality): the selected (lr, wd), models trained, diverged, mean test score."""
    t.require_columns(
        models, [t.U, t.MODALITY, t.LR, t.WD, t.SELECTED], "training summary", t.MODELS_FILE
    )
    rows = []
    for (u, modality), g in models.groupby([t.U, t.MODALITY]):
        chosen = g[g[t.SELECTED].astype(bool)]
        pairs = sorted(
            {(float(a), float(b)) for a, b in zip(chosen[t.LR], chosen[t.WD], strict=True)}
        )
        score = chosen[t.TEST_SCORE].mean() if t.TEST_SCORE in g else float("nan")
        diverged = int(g[t.DIVERGED].sum()) if t.DIVERGED in g else "?"
        rows.append({"U": u, "modality": modality, "selected (lr, wd)": ", ".join(map(str, pairs)),
                     "models": len(g), "diverged": diverged, "mean test score (selected)":
                     f"{score:.3f}"})  # fmt: skip
    return pd.DataFrame(rows)


def _page(
    run: t.RunTables,
    points: fd.Points | None,
    summary: pd.DataFrame | None,
    sentences: list[str],
    figures: list[RenderedFigure],
    notes: list[str],
    n_boot: int,
    chance_table: pd.DataFrame | None = None,
    paper_table: pd.DataFrame | None = None,
    withheld: str | None = None,
) -> str:
    title = f"alignlab report: {run.run_dir.name}"
    what = f"{points.metric}, modality-1 depth {points.depth1}" if points else "no data"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f'<p class="muted">Run directory {html.escape(str(run.run_dir))} ({html.escape(what)}).</p>'
    )
    parts.append("<h2>What the data shows</h2>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>")
    if paper_table is not None:
        parts.append("<h2>The paper's findings on this run</h2>")
        parts.append(_table_html(paper_table, "paper-findings"))
        parts.append(
            '<p class="muted">Each finding of the paper\'s synthetic study checked with one '
            "statistic and its 95% bootstrap interval (docs/synthetic.md): reproduced, partly "
            "(the low-uniqueness part only, or some levels), not shown (an interval includes 0), "
            "opposite, withheld (the models had not finished learning) or untestable (the run "
            "lacks the levels).</p>"
        )
    parts.append("<h2>Summary per uniqueness level</h2>")
    if summary is not None:
        parts.append(_summary_html(summary, withheld is not None))
        not_stated = (
            f" Columns marked \"not stated\" rank models by accuracy, which the text does not "
            f"state because {html.escape(withheld)}."
            if withheld
            else ""
        )
        parts.append(
            '<p class="muted">Medians of correlations with a 95% percentile bootstrap interval '
            f"of the median ({n_boot} resamples of the correlations): corr(alignment, performance) "
            "per D_phi pools all D_enc x seeds points; the depth correlations are per (D_phi, "
            f"seed) across D_enc. Undefined correlations are not counted.{not_stated}</p>"
        )
    else:
        parts.append('<p class="skipped">No summary: the alignments cannot be read.</p>')
    if chance_table is not None:
        parts.append("<h2>Chance per uniqueness level</h2>")
        parts.append(_table_html(_chance_display(chance_table), "chance"))
        parts.append(
            '<p class="muted">Pairs: encoder pairs of the level; above: pairs whose score beats '
            "the permutation null of its maximum over layer pairs (add-one p &lt;= "
            f"{ch.ALPHA:g}); binomial p: the chance of that many or more if no pair were "
            "aligned; chance level: the median mean of the null maximum.</p>"
        )
    parts += _figures_section_html(figures, notes)
    if run.models is not None:
        try:
            parts.append(
                "<h2>Training</h2>"
                + f"<p>{html.escape(selection_sentence(run.models))}</p>"
                + _table_html(training_summary(run.models), "training")
            )
        except t.MissingColumnsError as exc:
            parts.append(
                f'<p class="skipped">Training summary left out: {html.escape(str(exc))}</p>'
            )
    parts.append("<h2>Spec</h2>")
    parts.append(f'<pre id="spec">{html.escape(run.spec_text or "spec.yaml is missing")}</pre>')
    parts.append(_environment_html(run.environment))
    return _html_document(title, parts)


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    metric: str | None = None,
    depth1: int | None = None,
    method: str = "spearman",
    n_boot: int = 1000,
) -> Path:
    """Write the report of ``run_dir`` and return the path of its ``index.html``.

    Parameters
    ----------
    run_dir : path
        A run directory (see :mod:`alignlab.analysis.tables`).
    out_dir : path, optional
        Where to write; ``RUN_DIR/report`` by default.
    metric, depth1 :
        What to analyse: default ``unbiased_cka`` (else the first metric present) and the
        smallest modality-1 depth present.
    method : {"spearman", "pearson"}
        Correlation drawn in the figures; tables and summary report both.
    n_boot : int
        Bootstrap resamples of every interval.

    A run whose ``spec.yaml`` says ``study: vl`` gets the vision-language report instead
    (:func:`alignlab.analysis.vl_report.write_vl_report`), and ``study: multibench`` the
    Table 1 report (:func:`alignlab.analysis.multibench_report.write_multibench_report`);
    ``metric`` and ``depth_a`` must then be left unset.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` holds no alignment results.
    ValueError
        ``metric`` or ``depth_a`` is not in the results.
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be spearman or pearson, got {method!r}")
    remove_temporary(run_dir, unless_locked="run.json")  # left by a killed writer, not a live run
    study = _spec_field(run_dir, "study") or "synthetic"
    if study != "synthetic":
        if metric is not None or depth1 is not None:
            raise ValueError(
                "metric and depth1 (--metric, --depth1) apply to the synthetic study; a "
                f"{study} run's metric is in its spec"
            )
        return _other_study_report(str(study), run_dir, out_dir, method, n_boot)
    run = t.load_run(run_dir)
    out = Path(out_dir).expanduser() if out_dir else run.run_dir / "report"
    notes = list(run.notes)
    points = summary = correlations = chance_table = paper_table = withheld = None
    sentences: list[str] = []
    skip_all = None
    try:
        points = fd.select_points(run.alignments, metric, depth1, what="every figure")
    except (t.MissingColumnsError, t.InsufficientDataError) as exc:
        skip_all = str(exc)
        sentences.append(f"Nothing can be shown: {exc}")
    if points is not None:
        if t.PERF2 in points.frame.columns:
            correlations = fd.correlation_table(points, n_boot=n_boot)
        else:
            notes.append(f"no {t.PERF2} column: the performance correlations are left out")
        maxima = fd.max_alignment(points)
        summary = summary_by_u(points, correlations, n_boot=n_boot)
        warnings, withheld, convergence = _convergence(run.models)
        sentences = findings(points, maxima, summary, n_boot, _spec_uniqueness(run.spec_text),
                             withheld)  # fmt: skip
        sentences[2:2] = warnings  # right after what was run and its size
        said, chance_table = ch.chance_findings(run.alignments, points, maxima, n_boot, withheld)
        sentences += said
        at_chance = [] if chance_table is None else chance_table.loc[
            ~chance_table["above_chance"], t.U].tolist()  # fmt: skip
        found = paper_findings(points, maxima, correlations, n_boot, withheld, at_chance)
        sentences.insert(2 + len(warnings), findings_sentence(found))
        paper_table = findings_table(found)
        tables = {"summary": _flat(summary), "maxima": maxima, "correlations": correlations,
                  "chance": chance_table, "convergence": convergence,
                  "paper_findings": paper_table}  # fmt: skip
        for name, frame in tables.items():
            if frame is not None:
                _atomic_write(out / "tables" / f"{name}.csv", frame.to_csv(index=False).encode())
    figures = render_figures(points, correlations, method, skip_all)
    _write_figure_files(out, figures)
    page = _page(
        run, points, summary, sentences, figures, notes, n_boot, chance_table, paper_table,
        withheld,
    )  # fmt: skip
    index = out / "index.html"
    _atomic_write(index, page.encode())
    return index


def _convergence(models: pd.DataFrame | None) -> tuple[list[str], str | None, pd.DataFrame | None]:
    """The convergence warnings of the models table, the reason to withhold the findings that
    rank models by accuracy (None when modality 2 finished learning), and the per-depth table
    (:mod:`alignlab.analysis.convergence`); nothing for a table without best epochs."""
    if models is None or not set(REQUIRED) <= set(models.columns):
        return [], None, None
    table, warnings = convergence_summary(models)
    withheld = None
    if "x2" in undertrained_modalities(table):
        withheld = (
            "the modality-2 models had not finished learning (see the warning above): a deeper "
            "encoder learns more slowly, so their accuracies rank training time, not ability"
        )
    return warnings, withheld, table


def _chance_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "U": table[t.U],
            "pairs": table["pairs"],
            "above chance": table["above"],
            "binomial p": table["binomial_p"].map(lambda v: f"{v:.2g}"),
            "above chance overall": table["above_chance"].map({True: "yes", False: "no"}),
            "median score": table["median_score"].map(lambda v: f"{v:.3f}"),
            "chance level": table["median_chance"].map(lambda v: f"{v:.3f}"),
            "median calibrated": table["median_calibrated"].map(lambda v: f"{v:+.3f}"),
        }
    )


def _spec_uniqueness(spec_text: str | None) -> list[int] | None:
    try:
        spec = yaml.safe_load(spec_text or "")
    except yaml.YAMLError:
        return None
    values = spec.get("uniqueness") if isinstance(spec, dict) else None
    return [int(u) for u in values] if isinstance(values, list) else None


def _spec_field(run_dir: str | Path, name: str) -> object:
    """Field ``name`` of ``RUN_DIR/spec.yaml``; None when the file or the field is missing."""
    path = Path(run_dir).expanduser() / "spec.yaml"
    try:
        spec = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError:
        return None
    return spec.get(name) if isinstance(spec, dict) else None


def _other_study_report(study: str, run_dir, out_dir, method: str, n_boot: int) -> Path:
    """The report of a study other than the synthetic one: its own section where it has one,
    else every table of the run (:mod:`alignlab.analysis.tables_report`)."""
    if study == "vl":
        from alignlab.analysis.vl_report import write_vl_report

        return write_vl_report(run_dir, out_dir, method=method, n_boot=n_boot)
    if study == "multibench":
        from alignlab.analysis.multibench_report import write_multibench_report

        return write_multibench_report(run_dir, out_dir)
    from alignlab.analysis.tables_report import write_tables_report

    return write_tables_report(run_dir, out_dir)
