"""The diagnostic's HTML report: ``OUT/index.html``, one self-contained page, and ``models.csv``.

Reads only the diagnostic's result as numbers (its ``to_dict()`` mapping, the same content as
its JSON), so a report can be rebuilt from a saved JSON file. Per direction: the verdict with
its evidence and caveats, the correlations of every metric, the test scores, and a figure of
alignment against performance (one panel per metric, dots coloured by depth) beside test score
against depth. Figures are embedded as base64 PNG; the page needs nothing else.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alignlab.analysis.figures import figure_bytes
from alignlab.analysis.page import CSS, _atomic_write, _size_html

MIN_MODELS = 10  # fewer models per direction and the correlation's interval cannot be narrow
MAX_WIDTH = 0.5  # a wider 95% interval cannot tell a strong from a weak relation
CHANCE_MARGIN = 0.1  # a best model within this much test accuracy of chance is "near chance"

EXTRA_CSS = """
.verdict { font-size: 1.15em; padding: 0.6em 0.9em; border-left: 6px solid #888;
           background: #f6f6f6; margin: 0.8em 0; }
.verdict.tracks { border-color: #2a8a3a; } .verdict.anti-correlates { border-color: #b8321f; }
.verdict.mixed { border-color: #c98a00; }
"""


def _corr(c: dict[str, Any], symbol: str = "ρ") -> str:
    """A correlation mapping (``Correlation.as_dict``) as text."""
    if c["value"] is None:
        return f"undefined: {c['reason']} (n = {c['n']})"
    interval = "" if c["low"] is None else f" [{c['low']:.2f}, {c['high']:.2f}]"
    return f"{symbol} = {c['value']:.2f}{interval} (n = {c['n']})"


def _num(v: Any, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def _table(head: list[str], rows: list[list[str]], table_id: str) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def direction_figure(models: pd.DataFrame, direction: dict[str, Any]) -> Figure:
    """Alignment vs test score per metric, and test score vs depth, for one direction.

    ``models`` is the diagnostic's models table; ``direction`` one entry of ``directions``.
    """
    ours = models[(models["modality_name"] == direction["modality"]) & models["selected"]]
    metrics = direction["metrics"]
    fig = Figure(figsize=(3.3 * (len(metrics) + 1), 3.0), layout="constrained")
    axes = fig.subplots(1, len(metrics) + 1, squeeze=False)[0]
    depth = ours["depth"].to_numpy(float)
    for ax, m in zip(axes, metrics, strict=False):
        dots = ax.scatter(ours["test_score"], ours[f"align_{m['metric']}"], c=depth,
                          cmap="viridis", s=22, vmin=depth.min(), vmax=depth.max())  # fmt: skip
        ax.set_title(
            f"{m['metric']}\n{_corr(m['spearman'])}\n{_corr(m['pearson'], 'r')}", fontsize=7
        )
        ax.set_xlabel(f"test score of {direction['modality']} models")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"alignment to the best {direction['reference_modality']} model")
    last = axes[-1]
    last.scatter(depth, ours["test_score"], c=depth, cmap="viridis", s=22)
    means = ours.groupby("depth")["test_score"].mean()
    last.plot(means.index, means.to_numpy(), color="#c0392b", lw=1)
    last.set_title(f"test score vs depth\n{_corr(direction['depth_performance'])}", fontsize=7)
    last.set_xlabel("encoder depth")
    last.grid(alpha=0.3)
    fig.colorbar(dots, ax=list(axes), label="depth", shrink=0.8)
    fig.suptitle(f"{direction['name']}", fontsize=9)
    return fig


def _direction_html(models: pd.DataFrame, d: dict[str, Any]) -> str:
    v = d["verdict"]
    parts = [f'<h2 id="dir-{html.escape(d["modality"])}">{html.escape(d["name"])}</h2>']
    parts.append(
        f'<p class="muted">Every selected {html.escape(d["modality"])} model ({d["n_models"]}: '
        f"depths x seeds) aligned to the best {html.escape(d['reference_modality'])} model "
        f"(depth {d['reference']['depth']}, seed {d['reference']['seed']}, validation score "
        f"{_num(d['reference']['val_score'])}, test score {_num(d['reference']['test_score'])})."
        "</p>"
    )
    parts.append(
        f'<p class="verdict {v["label"].replace(" ", "-")}">{html.escape(v["sentence"])}</p>'
    )
    if d["caveats"]:
        parts.append(
            '<ul class="skipped">'
            + "".join(f"<li>{html.escape(c)}</li>" for c in d["caveats"])
            + "</ul>"
        )
    rows = [
        [m["metric"], _corr(m["spearman"]), _corr(m["pearson"], "r"),
         _corr(m["depth_alignment"]), _num(m["max_alignment"]), m["verdict"]["label"]]
        for m in d["metrics"]
    ]  # fmt: skip
    head = ["metric", "corr(alignment, performance) Spearman", "Pearson",
            "corr(depth, alignment)", "max alignment", "verdict"]  # fmt: skip
    parts.append(_table(head, rows, f"metrics-{d['modality']}"))
    s = d["test_scores"]
    by_depth = ", ".join(f"{k}: {_num(v)}" for k, v in s["by_depth"].items())
    parts.append(
        f"<p>corr(depth, performance): {html.escape(_corr(d['depth_performance']))}. Test "
        f"scores of the {html.escape(d['modality'])} models: best-validation model "
        f"{_num(s['best'])}, highest {_num(s['max'])}, mean {_num(s['mean'])}; mean by depth "
        f"{html.escape(by_depth)}.</p>"
    )
    png = figure_bytes(direction_figure(models, d), "png")
    data = base64.b64encode(png).decode()
    parts.append(
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(d["name"])}">'
        "<figcaption>Left: each selected model's null-calibrated alignment (max over layer "
        "pairs) against its test score, coloured by depth, one panel per metric. Right: test "
        "score by depth (red: mean over seeds).</figcaption></figure>"
    )
    return "\n".join(parts)


def run_size(r: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """What this diagnostic ran (sentences), why it is too small for its verdicts (fewer than
    :data:`MIN_MODELS` models per direction, a best model within :data:`CHANCE_MARGIN` of chance:
    the test score of always answering the most frequent class or sign, else 1 / classes) and
    caveats (the first metric's interval wider than :data:`MAX_WIDTH`)."""
    data = r["data"]
    facts = [f"{data['n_samples']} samples; alignment on {data['n_align']} test samples."]
    limits: list[str] = []
    caveats: list[str] = []
    classes = r.get("classes") or []
    chance = 1.0 / len(classes) if r.get("task") == "classification" and classes else None
    chance = data.get("chance_score", chance)  # the majority class's share, where recorded
    for d in r["directions"]:
        first = d["metrics"][0] if d["metrics"] else None
        c = first["spearman"] if first else None
        best = d["test_scores"].get("best")
        text = f"{d['name']}: {d['n_models']} models"
        if c is not None and c["low"] is not None:
            width = c["high"] - c["low"]
            text += f", {first['metric']} interval [{c['low']:.2f}, {c['high']:.2f}]"
            if width > MAX_WIDTH:
                caveats.append(f"{d['name']}: interval {width:.2f} wide (more than {MAX_WIDTH})")
        if best is not None and chance is not None:
            text += f", best model's test score {best:.3f} (chance {chance:.3f})"
            if best < chance + CHANCE_MARGIN:
                limits.append(f"{d['name']}: models near chance ({best:.3f} against {chance:.3f})")
        facts.append(text + ".")
        if d["n_models"] < MIN_MODELS:
            limits.append(f"{d['name']}: {d['n_models']} models (fewer than {MIN_MODELS})")
    return facts, limits, caveats


def unique_sentence(unique: dict | None, limit: float) -> str | None:
    """The joint model against the best single modality in words (None without a share), e.g.
    "a model of both modalities together scores 0.887 on the test split, the best single
    modality (x2) 0.625, chance 0.263: 42% of the joint model's gain over chance is out of
    either single modality's reach (above the limit of 30%)"."""
    if not unique or unique.get("share") is None:
        return None
    top, share = unique["best_single"], unique["share"]
    return (
        f"a model of both modalities together scores {unique['joint']:.3f} on the test split, "
        f"the best single modality ({top}) {unique['single'][top]:.3f}, chance "
        f"{unique['chance']:.3f}: {share:.0%} of the joint model's gain over chance is out of "
        f"either single modality's reach ({'above' if share > limit else 'within'} the limit "
        f"of {limit:.0%})"
    )


def _unique_html(unique: dict | None, limit: float | None) -> str:
    """One paragraph: the joint model against the best single modality, or why it is absent."""
    sentence = unique_sentence(unique, 1.0 if limit is None else limit)
    if sentence is None:
        return (
            '<p class="muted">No model of both modalities together (its inputs could not be '
            "joined, or it was turned off): the unique-information gate was not applied.</p>"
        )
    return f"<p>Unique information: {html.escape(sentence, quote=False)}.</p>"


def _page(r: dict[str, Any], models: pd.DataFrame) -> str:
    names = r["modalities"]
    title = f"alignlab diagnostic: {names[0]} and {names[1]}"
    o = r["overall"]
    parts = [f"<h1>{html.escape(title)}</h1>"]
    data = r["data"]
    split = " / ".join(f"{k} {v}" for k, v in data["split_sizes"].items())
    parts.append(
        f'<p class="muted">{data["n_samples"]} samples ({r["task"]}; split {split}); '
        f"alignment on {data['n_align']} test samples; budget "
        f"{html.escape(r['settings']['budget'])}, seed {r['settings']['seed']}.</p>"
    )
    parts.append(
        f'<p class="verdict {o["label"].replace(" ", "-")}">{html.escape(o["sentence"])}</p>'
    )
    facts, limits, caveats = run_size(r)
    parts.append(_size_html(facts, limits, "its verdicts", caveats))
    parts.append(_unique_html(r.get("unique"), r["settings"].get("max_unique_share")))
    parts += [_direction_html(models, d) for d in r["directions"]]
    parts.append("<h2>How to read this</h2>")
    n_metrics = len(r["settings"]["metrics"])
    parts.append(
        "<p>The verdict of a direction rests on the Spearman correlation between its models' "
        "calibrated alignment (score minus the mean of its permutation null) and their test "
        f"performance, with a bootstrap interval corrected for the {2 * n_metrics} "
        f"(direction, metric) pairs tested ({_corrected(r['settings']['ci'], 2 * n_metrics)}). "
        "It passes three gates first: <b>too few models</b> when the correlation is undefined; "
        "<b>inconclusive</b> when the models' scores on the same parts of the test set are not "
        "told apart (Friedman's test, p &gt; 0.05), so their ranking is test-set noise; <b>no "
        "alignment emerges</b> when the median p-value of the models' alignments is above the "
        "corrected level; <b>unique information</b> when a model trained on both modalities "
        "together gains more over the best single modality than "
        f"{r['settings'].get('max_unique_share', 0.3):.0%} of its own gain over chance. "
        f"Then <b>tracks</b> when ρ ≥ {r['settings']['min_rho']} and the "
        "interval's lower bound is above 0; <b>anti-correlates</b> when ρ ≤ "
        f"−{r['settings']['min_rho']} and its upper bound is below 0; <b>no reliable "
        "relation</b> otherwise. The paper finds alignment tracking performance when the "
        "modalities share the task's information (redundancy) and not when each holds its own "
        "(uniqueness). See docs/diagnostic.md.</p>"
    )
    settings = [[k, json.dumps(v)] for k, v in r["settings"].items()]
    parts.append("<h2>Settings</h2>" + _table(["setting", "value"], settings, "settings"))
    shown = models[models["selected"]].drop(columns=["member"], errors="ignore")
    rows = [[_num(v, 4) if isinstance(v, float) else v for v in row] for row in shown.to_numpy()]
    parts.append("<h2>Selected models</h2>" + _table(list(shown.columns), rows, "models"))
    parts.append('<p class="muted">Every trained model: <a href="models.csv">models.csv</a>.</p>')
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}{EXTRA_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _corrected(ci: float, tests: int) -> str:
    """``"98.75% intervals, null level 0.0125"`` for ``ci`` Bonferroni-corrected over ``tests``."""
    alpha = (1 - ci) / tests
    return f"{1 - alpha:.2%} intervals, null level {alpha:.4g}"


def write_diagnostic_report(result: Any, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/models.csv``; return the page's path.

    ``result`` is a :class:`~alignlab.studies.diagnostic.result.DiagnosticResult` or its
    ``to_dict()`` mapping (e.g. read back from the diagnostic's JSON).
    """
    r = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    models = pd.DataFrame(r["models"])
    for col in [c for c in models.columns if c.startswith("align_")]:
        models[col] = models[col].astype(float)
    out = Path(out_dir).expanduser()
    _atomic_write(out / "models.csv", models.to_csv(index=False).encode())
    index = out / "index.html"
    _atomic_write(index, _page(r, models).encode())
    return index
