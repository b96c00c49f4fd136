"""The HTML report of a vision-language run: ``RUN_DIR/report/index.html``.

Same page shell as the synthetic report (:mod:`alignlab.analysis.report`): self-contained,
figures embedded as PNG and written beside it as PNG and SVG, the tables behind it as CSV::

    report/index.html
    report/figures/vl_alignment_vs_uniqueness.png/.svg, vl_alignment_vs_performance.png/.svg
    report/tables/vl_summary.csv, vl_trends.csv, vl_performance_correlations.csv
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import yaml

from alignlab.analysis import tables as t
from alignlab.analysis import vl_figures as vf
from alignlab.analysis.figures import RenderedFigure, figure_bytes
from alignlab.analysis.page import (
    _atomic_write,
    _environment_html,
    _figures_section_html,
    _html_document,
    _size_html,
    _table_html,
    _write_figure_files,
)

MIN_LEVELS = 4  # a trend over fewer perturbation levels has an interval that says little
MIN_LANGUAGE = 3  # with 2 language models every per-level correlation is -1 or +1
MIN_PAIRS = 500  # mutual kNN on fewer image-caption pairs is noisy
MAX_WIDTH = 0.5  # a wider 95% interval cannot tell a strong from a weak relation
MODEL_COLUMNS = ("kind", "name", "class", "n_params", "n_layers", "width", "revision")
FIGURES = (
    (
        "vl_alignment_vs_uniqueness",
        "Alignment vs uniqueness (Figure 5)",
        "Mutual kNN alignment (max over layer pairs) of each vision model (panel) with each "
        "language model (line) against the perturbation level U: the percentage of caption "
        "characters deleted and of image pixels replaced by noise. The dashed black line is the "
        "maximum over language models; titles give its {method} correlation with U, a 95% "
        "bootstrap interval and the number of levels.",
    ),
    (
        "vl_alignment_vs_performance",
        "Alignment vs performance (Figure 8)",
        "Alignment against each language model's bits-per-byte ({bpb} over captions) on the "
        "perturbed captions, one panel per level, coloured by vision model with a least-squares "
        "line each. Lower bits-per-byte is better; the axis is reversed so better models lie "
        "right. Titles: the mean over vision models of {method}(alignment, -bpb), and the "
        "correlation pooled over all pairs with its 95% bootstrap interval.",
    ),
)


def _read(root: Path, name: str, notes: list[str]) -> pd.DataFrame | None:
    path = root / "tables" / f"{name}.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    notes.append(f"tables/{name}.parquet is missing")
    return None


def _draw(name: str, draw) -> tuple[bytes | None, bytes | None, str | None]:
    try:
        fig = draw()
    except ValueError as exc:  # MissingColumnsError, InsufficientDataError
        return None, None, str(exc)
    png = figure_bytes(fig, "png")
    fig.set_layout_engine("none")  # keep the layout just computed: the SVG needs no new one
    return png, figure_bytes(fig, "svg"), None


def summary_by_level(data: pd.DataFrame, perf: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per level: best pair, mean alignment and bpb, and the correlations of Figure 8."""
    rows = []
    short = vf.short_names(list(data["vision"]) + list(data["language"]))
    for level, at in data.groupby("level"):
        top = at.loc[at["score"].idxmax()]
        c = perf[(perf["level"] == level) & (perf["method"] == method)]
        per_vision = c.loc[c["vision"] != vf.ALL, "value"].dropna()
        pooled = c[c["vision"] == vf.ALL].iloc[0]
        interval = "" if pd.isna(pooled["low"]) else f" [{pooled['low']:.2f}, {pooled['high']:.2f}]"
        rows.append({
            "U (%)": level,
            "max alignment": f"{top['score']:.3f}",
            "at (vision, language)": f"({short[top['vision']]}, {short[top['language']]})",
            "mean alignment": f"{at['score'].mean():.3f}",
            "mean bpb": f"{at.drop_duplicates('language')['bpb'].mean():.3f}",
            f"mean {method} (alignment, -bpb) over vision models":
                f"{per_vision.mean():.2f} ({len(per_vision)})" if len(per_vision) else "undefined",
            f"pooled {method} (alignment, -bpb)": "undefined" if pd.isna(pooled["value"])
                else f"{pooled['value']:.2f}{interval} (n = {pooled['n']})",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _direction(low, high) -> str:
    if low is not None and not pd.isna(low) and low > 0:
        return "rises"
    if high is not None and not pd.isna(high) and high < 0:
        return "falls"
    return "shows no clear trend"


def findings(data: pd.DataFrame, trends: pd.DataFrame, method: str) -> list[str]:
    """Sentences chosen by the sign of each interval, each carrying its numbers."""
    out = []
    short = vf.short_names(list(data["vision"]) + list(data["language"]))
    levels = sorted(data["level"].unique())
    lo, hi = levels[0], levels[-1]
    best = vf.max_by_level(data)
    for vision in dict.fromkeys(data["vision"]):
        g = best[best["vision"] == vision]
        c = trends[(trends["vision"] == vision) & (trends["language"] == "max")]
        c = c[c["method"] == method].iloc[0]
        a, b = (g.loc[g["level"] == x, "score"].iloc[0] for x in (lo, hi))
        stat = "undefined" if pd.isna(c["value"]) else f"{method} {c['value']:.2f}"
        if not pd.isna(c["low"]):
            stat += f" [{c['low']:.2f}, {c['high']:.2f}]"
        out.append(
            f"Maximum alignment of {short[vision]} over language models "
            f"{_direction(c['low'], c['high'])} with uniqueness: {a:.3f} at U = {lo}% and "
            f"{b:.3f} at U = {hi}% ({stat} across {len(g)} levels)."
        )
    scored = data.dropna(subset=["bpb"])
    if scored.empty:
        return out
    bpb = scored.drop_duplicates(["language", "level"]).groupby("level")["bpb"].mean()
    if lo in bpb.index and hi in bpb.index:
        n_scored, n_all = scored["language"].nunique(), data["language"].nunique()
        of = "" if n_scored == n_all else f" ({n_scored} of {n_all} scored)"
        out.append(
            f"Language models' mean bits-per-byte{of} goes from {bpb.loc[lo]:.3f} at U = {lo}% "
            f"to {bpb.loc[hi]:.3f} at U = {hi}% (lower is better)."
        )
    return out


def unscored_sentences(language: pd.DataFrame) -> list[str]:
    """One sentence per language model without bits-per-byte, with the reason the study
    stored (``bpb_missing``): it is left out of every bits-per-byte number and figure.

    >>> lang = pd.DataFrame({"language": ["m/gpt", "m/bert"], "bpb_missing": ["", "no head"]})
    >>> print(unscored_sentences(lang)[0][:44])
    No bits-per-byte for bert: no head. It is le
    """
    if "bpb_missing" not in language.columns:
        return []
    short = vf.short_names(list(dict.fromkeys(language["language"])))
    why = language[language["bpb_missing"].fillna("") != ""].drop_duplicates("language")
    return [
        f"No bits-per-byte for {short[r.language]}: {r.bpb_missing}. It is left out of every "
        "bits-per-byte number, figure and correlation (its alignments are still shown)."
        for r in why.itertuples()
    ]


def run_size(
    alignments: pd.DataFrame, trends: pd.DataFrame, method: str
) -> tuple[list[str], list[str], list[str]]:
    """What this run is (sentences), why it is too small for its trends (fewer than
    :data:`MIN_LEVELS` levels, :data:`MIN_LANGUAGE` language models or :data:`MIN_PAIRS` pairs)
    and caveats (an interval of the maximum's trend wider than :data:`MAX_WIDTH`)."""
    levels = sorted(alignments["level"].unique())
    n_v, n_l = alignments["vision"].nunique(), alignments["language"].nunique()
    n = int(alignments["n"].min()) if "n" in alignments.columns else None
    facts = [
        f"{n_v} vision and {n_l} language model(s) at {len(levels)} perturbation level(s) "
        f"(U = {', '.join(f'{x:g}' for x in levels)}%)"
        + ("" if n is None else f" on {n} image-caption pairs")
        + ".",
        f"Each trend with U is over {len(levels)} levels; each per-level correlation with "
        f"bits-per-byte is over {n_l} language models.",
    ]
    limits: list[str] = []
    caveats: list[str] = []
    if len(levels) < MIN_LEVELS:
        limits.append(f"{len(levels)} levels per trend (fewer than {MIN_LEVELS})")
    if n_l < MIN_LANGUAGE:
        limits.append(f"{n_l} language model(s) per correlation with performance (fewer than "
                      f"{MIN_LANGUAGE})")  # fmt: skip
    if n is not None and n < MIN_PAIRS:
        limits.append(f"{n} image-caption pairs (fewer than {MIN_PAIRS})")
    best = trends[(trends["language"] == "max") & (trends["method"] == method)].dropna(
        subset=["low", "high"]
    )
    if len(best):
        width = float((best["high"] - best["low"]).max())
        facts.append(f"The widest 95% interval of the maximum's trend is {width:.2f} wide.")
        if width > MAX_WIDTH:
            caveats.append(f"trend intervals up to {width:.2f} wide (more than {MAX_WIDTH})")
    return facts, limits, caveats


def write_vl_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    method: str = "spearman",
    n_boot: int = 1000,
) -> Path:
    """Write the report of a vision-language run and return the path of its ``index.html``.

    ``method`` is the correlation shown in the figures and the summary (tables hold both).
    The bits-per-byte summary is the spec's ``bpb`` (``mean`` by default).

    Raises:
        FileNotFoundError: ``run_dir`` holds no vision-language results.
    """
    root = Path(run_dir).expanduser()
    out = Path(out_dir).expanduser() if out_dir else root / "report"
    notes: list[str] = []
    spec_path = root / "spec.yaml"
    spec_text = spec_path.read_text() if spec_path.is_file() else None
    spec = yaml.safe_load(spec_text or "") or {}
    bpb = spec.get("bpb", "mean") if isinstance(spec, dict) else "mean"
    alignments = _read(root, "alignments", notes)
    language = _read(root, "language", notes)
    models = _read(root, "models", notes)
    if alignments is None or alignments.empty:
        raise FileNotFoundError(
            f"no vision-language results in {root}: tables/vl_alignments.parquet is missing or "
            "empty; run the study first (alignlab run vl ...)"
        )
    environment = t._read_environment(root / "environment.json", notes)
    skipped = environment.get("skipped_images") or []
    notes += [f"image left out: {s}" for s in skipped]

    trends = vf.uniqueness_trends(alignments, n_boot)
    sentences, summary, perf = [], None, None
    if language is not None:
        data = vf.joined(alignments, language, bpb)
        perf = vf.performance_correlations(data, n_boot)
        summary = summary_by_level(data, perf, method)
        sentences = findings(data, trends, method) + unscored_sentences(language)
    csvs = {"vl_summary": summary, "vl_trends": trends, "vl_performance_correlations": perf}
    for name, frame in csvs.items():
        if frame is not None:
            _atomic_write(out / "tables" / f"{name}.csv", frame.to_csv(index=False).encode())

    draws = {
        "vl_alignment_vs_uniqueness": lambda: vf.fig_alignment_vs_uniqueness(alignments, method),
        "vl_alignment_vs_performance": lambda: vf.fig_alignment_vs_performance(
            alignments, language if language is not None else pd.DataFrame(), bpb, method
        ),
    }
    figures = []
    for name, title, caption in FIGURES:
        png, svg, reason = _draw(name, draws[name])
        text = caption.format(method=method.capitalize(), bpb=bpb)
        figures.append(RenderedFigure(name, title, text, png, svg, reason))
    _write_figure_files(out, figures)

    title = f"alignlab report: {root.name} (vision-language)"
    n = int(alignments["n"].iloc[0]) if "n" in alignments else "?"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f'<p class="muted">Run directory {html.escape(str(root))}: mutual kNN alignment of '
        f"{alignments['vision'].nunique()} vision and {alignments['language'].nunique()} "
        f"language model(s) on {n} image-caption pairs.</p>"
    )
    facts, limits, caveats = run_size(alignments, trends, method)
    parts.append(_size_html(facts, limits, "its trends with U and with performance", caveats))
    parts.append("<h2>What the data shows</h2><ul>")
    parts += [f"<li>{html.escape(s)}</li>" for s in sentences] + ["</ul>"]
    if summary is not None:
        parts.append("<h2>Summary per uniqueness level</h2>" + _table_html(summary, "summary"))
    parts += _figures_section_html(figures, notes)
    if language is not None:
        wide = language.pivot_table(index="language", columns="level", values=f"bpb_{bpb}")
        wide.columns = [f"U = {c}%" for c in wide.columns]
        wide = wide.round(4).reset_index()
        parts.append(f"<h2>Language models: bits-per-byte ({bpb})</h2>")
        parts.append(_table_html(wide, "bpb"))
    if models is not None:
        first = [c for c in MODEL_COLUMNS if c in models.columns]
        models = models[first + [c for c in models.columns if c not in first]]
        parts.append("<h2>Models</h2>" + _table_html(models.astype(object).fillna(""), "models"))
    parts.append("<h2>Spec</h2>")
    parts.append(f'<pre id="spec">{html.escape(spec_text or "spec.yaml is missing")}</pre>')
    parts.append(_environment_html(environment))
    index = out / "index.html"
    _atomic_write(index, _html_document(title, parts).encode())
    return index
