"""The environment record of a run directory: versions, machine, and every run's timing.

``RUN_DIR/environment.json`` holds the versions and machine of the latest run and ``runs``, one
entry per ``alignlab run`` of the directory (start, end, seconds, jobs run): re-running a finished
study, which does no work, adds an entry and never replaces the record of the run that did.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from alignlab._io import atomic_write_text

MAIN_PACKAGES = ("torch", "numpy", "scipy", "pandas", "pyarrow", "transformers", "distributed")


def versions() -> dict[str, str | None]:
    """alignlab, Python and the main dependencies' versions (None: not installed)."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("alignlab", *MAIN_PACKAGES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict[str, Any]:
    """Platform, CPU count, the GPU torch sees (None without CUDA) and the training step a
    CPU takes (:func:`alignlab.train.training_step`)."""
    import torch

    from alignlab.train import training_step

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "training_step": training_step(),
    }


def now() -> str:
    """Local time as ``YYYY-mm-ddTHH:MM:SS``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class RunRecord:
    """Appends one run's entry to ``environment.json``: :meth:`start`, then :meth:`finish`."""

    def __init__(self, run_dir: Path, extra: dict[str, Any]) -> None:
        self.path = Path(run_dir) / "environment.json"
        self.extra = extra
        self._start = time.perf_counter()
        self._entry: dict[str, Any] = {}

    def _previous_runs(self) -> list[dict[str, Any]]:
        try:
            runs = json.loads(self.path.read_text()).get("runs", [])
        except (OSError, ValueError, AttributeError):
            return []
        return runs if isinstance(runs, list) else []

    def _write(self, runs: list[dict[str, Any]]) -> None:
        info = {**versions(), **machine(), **self.extra, "runs": runs}
        atomic_write_text(self.path, json.dumps(info, indent=2, default=str) + "\n")

    def start(self) -> None:
        self._entry = {"started": now()}
        self._runs = self._previous_runs()
        self._write([*self._runs, self._entry])

    def finish(self, jobs_run: dict[str, int]) -> float:
        """Record the end; returns the run's seconds."""
        seconds = round(time.perf_counter() - self._start, 1)
        self._entry |= {"finished": now(), "seconds": seconds, "jobs_run": jobs_run}
        self._write([*self._runs, self._entry])
        return seconds


def last_finished(run_dir: Path) -> dict[str, Any] | None:
    """The latest run entry that finished and ran jobs (else the latest that finished), or None."""
    try:
        runs = json.loads((Path(run_dir) / "environment.json").read_text()).get("runs", [])
    except (OSError, ValueError, AttributeError):
        return None
    done = [r for r in runs if isinstance(r, dict) and "finished" in r]
    working = [r for r in done if any((r.get("jobs_run") or {}).values())]
    return (working or done or [None])[-1]
