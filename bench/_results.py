"""``bench/RESULTS.md``: each benchmark owns one section, headed by its ``## `` line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(text: str, heading: str, results: Path = RESULTS) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## `` line) by
    ``text``, or append it; every other section is kept. Read just before writing, written to
    a temporary file and renamed, so a concurrent benchmark's section is not lost to a
    half-written file."""
    current = results.read_text() if results.exists() else "# Benchmark results\n"
    if f"{heading}\n" in current:
        start = current.index(f"{heading}\n")
        nxt = current.find("\n## ", start + len(heading))
        current = current[:start] + (current[nxt + 1 :] if nxt >= 0 else "")
    body = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    fd, tmp = tempfile.mkstemp(dir=results.parent, prefix=".RESULTS.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(body)
    os.replace(tmp, results)
