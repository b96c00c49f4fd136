"""The vision-language study's numbers and figures (the paper's Figures 5 and 8).

Inputs are the run's tables: ``vl_alignments`` (``vision``, ``language``, ``level``,
``score``, one row per model pair and perturbation level) and ``vl_language`` (``language``,
``level``, ``bpb_mean``, ``bpb_pooled``). Performance is a language model's bits-per-byte on the
perturbed captions, lower is better; correlations are taken with ``performance = -bpb``, so a
positive value means that the better language models are the more aligned ones (the paper's
sign). Every figure is a :class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

from pathlib import PurePath

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alignlab.analysis import tables as t
from alignlab.analysis.synthetic_figures import grid, panel_title
from alignlab.stats import METHODS, SYMBOL, Method, correlation

ALIGNMENTS_FILE = "tables/vl_alignments.parquet"
LANGUAGE_FILE = "tables/vl_language.parquet"
ALIGN_COLUMNS = ("vision", "language", "level", "score")
LANGUAGE_COLUMNS = ("language", "level", "bpb_mean", "bpb_pooled")
ALL = "all"  # label of correlations pooled over every vision model
COLOURS = "tab10"


def short_names(names) -> dict[str, str]:
    """A short label per model: the last path component, unless two would clash.

    >>> short_names(["facebook/dinov2-small", "/models/gpt2", "a/x", "b/x"])
    {'facebook/dinov2-small': 'dinov2-small', '/models/gpt2': 'gpt2', 'a/x': 'a/x', 'b/x': 'b/x'}
    """
    names = list(dict.fromkeys(names))
    short = {n: PurePath(n).name or n for n in names}
    counts = pd.Series(list(short.values())).value_counts()
    return {n: (s if counts[s] == 1 else n) for n, s in short.items()}


def joined(alignments: pd.DataFrame, language: pd.DataFrame, bpb: str = "mean") -> pd.DataFrame:
    """The alignments with each language model's ``bpb`` (the chosen summary) and ``perf = -bpb``.

    Raises :class:`~alignlab.analysis.tables.MissingColumnsError` naming missing columns.
    """
    if bpb not in ("mean", "pooled"):
        raise ValueError(f"bpb must be 'mean' or 'pooled'; got {bpb!r}")
    t.require_columns(alignments, ALIGN_COLUMNS, "alignment vs performance", ALIGNMENTS_FILE)
    t.require_columns(language, LANGUAGE_COLUMNS, "alignment vs performance", LANGUAGE_FILE)
    perf = language[["language", "level", f"bpb_{bpb}"]].rename(columns={f"bpb_{bpb}": "bpb"})
    out = alignments[list(ALIGN_COLUMNS)].merge(perf, on=["language", "level"], how="left")
    out["perf"] = -out["bpb"]
    return out


def max_by_level(alignments: pd.DataFrame) -> pd.DataFrame:
    """Per vision model and level, the highest alignment over language models (``score``)."""
    t.require_columns(alignments, ALIGN_COLUMNS, "alignment vs uniqueness", ALIGNMENTS_FILE)
    return alignments.groupby(["vision", "level"], as_index=False)["score"].max()


def uniqueness_trends(alignments: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Correlations of alignment with the perturbation level, both methods.

    One row per vision model with ``language = "max"`` (the maximum over language models at
    each level, against the level) and one per (vision, language) pair. Columns: ``vision``,
    ``language``, then the fields of :class:`~alignlab.stats.Correlation`.
    """
    rows = []
    best = max_by_level(alignments)
    groups = [(v, "max", g) for v, g in best.groupby("vision", sort=False)]
    groups += [(v, lang, g) for (v, lang), g in alignments.groupby(["vision", "language"])]
    for vision, lang, g in groups:
        for method in METHODS:
            c = correlation(g["level"], g["score"], method, n_boot=n_boot)
            rows.append({"vision": vision, "language": lang, **c.as_dict()})
    return pd.DataFrame(rows)


def performance_correlations(data: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Per level: corr(alignment, -bpb) over the language models, per vision model and pooled.

    ``data`` is :func:`joined`. One row per (level, vision or ``"all"``, method).
    """
    rows = []
    for level, at in data.groupby("level"):
        groups = [(v, g) for v, g in at.groupby("vision", sort=False)] + [(ALL, at)]
        for vision, g in groups:
            for method in METHODS:
                c = correlation(g["score"], g["perf"], method, n_boot=n_boot)
                rows.append({"level": level, "vision": vision, **c.as_dict()})
    return pd.DataFrame(rows)


def _legend(fig: Figure, handles: list, labels: list[str], title: str) -> None:
    fig.legend(handles, labels, title=title, loc="outside lower center", fontsize=7,
               title_fontsize=7, ncols=min(4, max(1, len(labels))), frameon=False)  # fmt: skip


def fig_alignment_vs_uniqueness(alignments: pd.DataFrame, method: Method = "spearman") -> Figure:
    """Figure 5: alignment against perturbation level, one panel per vision model.

    A line per language model, and the maximum over language models as a black dashed line;
    each panel's title gives the correlation between the level and that maximum.
    """
    best = max_by_level(alignments)
    visions = list(dict.fromkeys(alignments["vision"]))
    languages = list(dict.fromkeys(alignments["language"]))
    if not visions:
        raise t.InsufficientDataError("alignment vs uniqueness: the alignments table is empty")
    vshort, lshort = short_names(visions), short_names(languages)
    fig, axes = grid(len(visions), 3, panel=(3.2, 2.6), sharey=True)
    colours = _colours(len(languages))
    handles = []
    for ax, vision in zip(axes, visions, strict=True):
        rows = alignments[alignments["vision"] == vision]
        for lang, colour in zip(languages, colours, strict=True):
            line = rows[rows["language"] == lang].sort_values("level")
            (h,) = ax.plot(line["level"], line["score"], "o-", color=colour, ms=3, lw=1, alpha=0.8)
            if ax is axes[0]:
                handles.append(h)
        top = best[best["vision"] == vision].sort_values("level")
        (h,) = ax.plot(top["level"], top["score"], "k--", lw=1.5)
        if ax is axes[0]:
            handles.append(h)
        c = correlation(top["level"], top["score"], method)
        panel_title(ax, vshort[vision], f"{SYMBOL[method]}(level, max): {_short(c)}", 8)
        ax.set_xlabel("perturbation level U (%)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("alignment (mutual kNN)", fontsize=8)
    labels = [lshort[lang] for lang in languages] + ["max over language models"]
    _legend(fig, handles, labels, "language model")
    fig.suptitle("Alignment vs uniqueness (vision model per panel)", fontsize=10)
    return fig


def fig_alignment_vs_performance(
    alignments: pd.DataFrame,
    language: pd.DataFrame,
    bpb: str = "mean",
    method: Method = "pearson",
) -> Figure:
    """Figure 8: alignment against bits-per-byte, one panel per perturbation level.

    Dots: one per (vision, language) pair, coloured by vision model, with a least-squares line
    per vision model. The x axis is reversed so that better language models (lower
    bits-per-byte) lie to the right. Titles give the mean over vision models of
    corr(alignment, -bpb) and the correlation pooled over all pairs, with its 95% interval.
    """
    data = joined(alignments, language, bpb)
    levels = sorted(data["level"].unique())
    if not levels:
        raise t.InsufficientDataError("alignment vs performance: the alignments table is empty")
    if data["bpb"].isna().all():
        raise t.InsufficientDataError("alignment vs performance: no bits-per-byte values")
    visions = list(dict.fromkeys(data["vision"]))
    vshort = short_names(visions)
    fig, axes = grid(len(levels), 4, panel=(2.8, 2.5), sharey=True)
    colours = _colours(len(visions))
    handles = []
    for ax, level in zip(axes, levels, strict=True):
        at = data[data["level"] == level]
        per_vision = []
        for vision, colour in zip(visions, colours, strict=True):
            g = at[at["vision"] == vision].dropna(subset=["bpb"])
            h = ax.scatter(g["bpb"], g["score"], color=colour, s=14)
            if ax is axes[0]:
                handles.append(h)
            if g["bpb"].nunique() >= 2:
                slope, icpt = np.polyfit(g["bpb"], g["score"], 1)
                xs = np.array([g["bpb"].min(), g["bpb"].max()])
                ax.plot(xs, slope * xs + icpt, color=colour, lw=1, alpha=0.8)
            per_vision.append(correlation(g["score"], g["perf"], method, n_boot=0).value)
        defined = [v for v in per_vision if v is not None]
        mean = f"{np.mean(defined):.2f}" if defined else "undefined"
        pooled = correlation(at["score"], at["perf"], method)
        sym = SYMBOL[method]
        panel_title(ax, f"U = {level}%", f"mean {sym} = {mean}; pooled {_short(pooled)}", 7)
        ax.invert_xaxis()
        ax.set_xlabel(f"bits per byte ({bpb}), lower is better →", fontsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("alignment (mutual kNN)", fontsize=8)
    _legend(fig, handles, [vshort[v] for v in visions], "vision model")
    fig.suptitle(
        f"Alignment vs language-model performance per uniqueness level ({sym}(alignment, -bpb))",
        fontsize=10,
    )
    return fig


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps[COLOURS]
    return [cmap(i % cmap.N) for i in range(n)]


def _short(c) -> str:
    """A correlation in one short line: value, interval and n, or 'undefined'."""
    if c.value is None:
        return f"undefined (n = {c.n})"
    interval = "" if c.low is None else f" [{c.low:.2f}, {c.high:.2f}]"
    return f"{c.value:.2f}{interval} (n = {c.n})"
