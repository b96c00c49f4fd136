"""The page shell every report shares: style, tables, figures, environment, atomic writes.

Each study's section (:mod:`.report` for the synthetic study, :mod:`.vl_report`,
:mod:`.multibench_report`, :mod:`.diagnostic_report`) builds its parts and hands them to
:func:`_html_document`; none of them imports another's page.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from alignlab._io import atomic_write_bytes
from alignlab.analysis.figures import RenderedFigure

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; } pre { background: #f7f7f7; padding: 0.8em;
overflow-x: auto; white-space: pre-wrap; } .skipped { color: #8a4b00; }
.muted { color: #666; font-size: 0.9em; } .note { color: #8a4b00; }
.smoke { background: #fff4e0; border-left: 4px solid #e0a030; padding: 0.5em 0.8em; }
"""

# Marks <body data-images-ok="loaded/total"> once the page has loaded; the page needs no script.
IMAGE_CHECK = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-ok", ok + "/" + imgs.length);
});
"""


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)


def _table_html(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figures_section_html(figures: list[RenderedFigure], notes: list[str]) -> list[str]:
    """The Figures section, then the figures that were skipped (with why) and any notes."""
    parts = ["<h2>Figures</h2>", *(_figure_html(f) for f in figures)]
    skipped = [f for f in figures if f.png is None]
    if skipped or notes:
        parts.append('<h2 id="skipped">Skipped figures and notes</h2><ul class="skipped">')
        parts += [
            f"<li>{html.escape(f.title)} skipped: {html.escape(f.reason)}</li>" for f in skipped
        ]
        parts += [f"<li>{html.escape(n)}</li>" for n in notes] + ["</ul>"]
    return parts


def _figure_html(fig: RenderedFigure) -> str:
    if fig.png is None:
        return ""
    data = base64.b64encode(fig.png).decode()
    note = f'<br><span class="note">{html.escape(fig.note)}</span>' if fig.note else ""
    return (
        f'<figure id="fig-{fig.name}"><h3>{html.escape(fig.title)}</h3>'
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(fig.title)}">'
        f"<figcaption>{html.escape(fig.caption)} "
        f'<a href="figures/{fig.name}.png">PNG</a> · <a href="figures/{fig.name}.svg">SVG</a>'
        f"{note}</figcaption></figure>"
    )


def _size_html(facts: list[str], limits: list[str], claims: str, caveats: list[str] = ()) -> str:
    """The ``Size of this run`` section: what was run, and whether it can support ``claims``.

    ``facts`` are sentences on the run's size; ``limits`` the reasons it is too small to support
    its claims (too few points, models near chance): with any, the run is called a smoke test;
    ``caveats`` (wide intervals) say its numbers are uncertain. Each is computed from the data.
    """
    parts = ['<h2 id="size">Size of this run</h2>', "<p>" + html.escape(" ".join(facts)) + "</p>"]
    if limits:
        text = (
            f"This run is a smoke test: too small to support {claims}. "
            + "; ".join([*limits, *caveats])
            + ". It shows the pipeline works, not what the data says."
        )
        parts.append(f'<p class="smoke" id="smoke-test">{html.escape(text)}</p>')
    elif caveats:
        text = (
            f"Large enough to compute {claims}, but they are uncertain: " + "; ".join(caveats)
            + ". Read a correlation whose interval includes 0 as no evidence either way."
        )
        parts.append(f'<p class="smoke" id="uncertain">{html.escape(text)}</p>')
    else:
        parts.append(
            f'<p id="adequate">Large enough for {html.escape(claims)} by the checks this report '
            "makes (points per correlation, interval widths, models above chance).</p>"
        )
    return "\n".join(parts)


def _environment_html(environment: dict) -> str:
    """The ``Environment`` section: one row per key of ``environment.json``."""
    env = pd.DataFrame(
        [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in environment.items()],
        columns=["key", "value"],
    )
    return "<h2>Environment</h2>" + _table_html(env, "environment")


def _html_document(title: str, parts: list[str]) -> str:
    """The self-contained page around ``parts`` (HTML fragments, in order)."""
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f"<script>{IMAGE_CHECK}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def _write_figure_files(out: Path, figures: list[RenderedFigure]) -> None:
    """``out/figures/<name>.png`` and ``.svg`` of every drawn figure; stale ones removed."""
    for fig in figures:
        for ext in ("png", "svg"):
            path = out / "figures" / f"{fig.name}.{ext}"
            data = getattr(fig, ext)
            if data is None:
                path.unlink(missing_ok=True)  # no stale figure from an earlier report
            else:
                _atomic_write(path, data)
