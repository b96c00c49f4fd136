"""The report of a study that has no section of its own: every table of the run, shown whole
(up to ``max_rows`` rows each), with the spec and the environment, in the shared page shell."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from alignlab.analysis.page import _atomic_write, _environment_html, _html_document, _table_html


def write_tables_report(
    run_dir: str | Path, out_dir: str | Path | None = None, max_rows: int = 200
) -> Path:
    """Write ``index.html`` listing the run's tables; returns its path."""
    root = Path(run_dir).expanduser()
    tables = sorted((root / "tables").glob("*.parquet"))
    if not tables:
        raise FileNotFoundError(f"no results in {root}: tables/ holds no Parquet table yet")
    out = Path(out_dir).expanduser() if out_dir else root / "report"
    spec = (root / "spec.yaml").read_text() if (root / "spec.yaml").is_file() else ""
    study = next((ln.split(":", 1)[1].strip() for ln in spec.splitlines()
                  if ln.startswith("study:")), "unknown")  # fmt: skip
    parts = [f"<h1>alignlab: {html.escape(study)} study</h1>"]
    for path in tables:
        frame = pd.read_parquet(path)
        shown = frame.head(max_rows).map(lambda v: v if not isinstance(v, list | tuple) else "…")
        more = "" if len(frame) <= max_rows else f" (first {max_rows} of {len(frame)} rows)"
        parts.append(f"<h2>{html.escape(path.stem)}{more}</h2>" + _table_html(shown, path.stem))
    parts.append(f"<h2>Spec</h2><pre>{html.escape(spec)}</pre>")
    env_path = root / "environment.json"
    environment = json.loads(env_path.read_text()) if env_path.is_file() else {}
    parts.append(_environment_html(environment))
    index = out / "index.html"
    _atomic_write(index, _html_document(f"alignlab: {study}", parts).encode())
    return index
