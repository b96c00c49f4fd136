"""``bench/RESULTS.md``: each benchmark owns one section, headed by its ``## `` line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(text: str, heading: str, results: Path = RESULTS) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## `` line) by
    ``text`` where it stands, or append it; every other section is kept in its place. Read
    just before writing, written to a temporary file and renamed, so a concurrent benchmark's
    section is not lost to a half-written file."""
    current = results.read_text() if results.exists() else "# Benchmark results\n"
    section = text.rstrip("\n") + "\n"
    lines = current.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == heading]
    if starts:
        start = starts[0]
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = lines[end:]
        body = "".join(lines[:start]) + section + ("\n" + "".join(tail) if tail else "")
    else:
        body = current.rstrip("\n") + "\n\n" + section
    fd, tmp = tempfile.mkstemp(dir=results.parent, prefix=".RESULTS.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(body)
    os.replace(tmp, results)
