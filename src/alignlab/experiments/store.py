"""The results store: a run directory that a sweep fills job by job, atomically.

Layout of ``RUN_DIR``::

    run.json               the claim: store format, study, fingerprint and spec (one file)
    spec.yaml              the resolved spec, a readable copy of the one in run.json
    environment.json       versions, machine, and the start, end and duration of every run
    jobs/<phase>/<key>.parquet   the rows of one finished job (its presence means "done")
    jobs/<phase>/<key>.pt        the job's tensors (best-checkpoint weights), when it has any
    tables/<name>.parquet  all finished jobs' rows, one table per phase, assembled at the end
    README.md              what each of these files is

Every file is written to a temporary name in the same folder and renamed into place, so a crash
or Ctrl-C leaves either the whole file or none of it. The job's Parquet file is renamed last, so a
job whose rows exist also has its tensors.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from alignlab import _io
from alignlab.experiments.spec import STORE_FORMAT

TABLE_OF_PHASE = {"train": "models", "align": "alignments"}
CLAIM = "run.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    _io.atomic_write_bytes(path, data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def frame_to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a DataFrame as Parquet bytes (pyarrow, no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class RunStore:
    """Reads and writes one run directory.

    Parameters
    ----------
    run_dir : path
        The run directory; created on :meth:`open_for` when missing.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.root = Path(run_dir).expanduser()

    # -- the claim and the spec ----------------------------------------------------------
    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    def claim(self) -> dict[str, Any] | None:
        """The run's claim (``format``, ``study``, ``fingerprint``, ``spec``), or None when the
        directory holds no alignlab run."""
        path = self.root / CLAIM
        if not path.is_file():
            return None
        try:
            claim = json.loads(path.read_text())
        except ValueError:
            raise ValueError(f"{path} is not valid JSON; it was not written by alignlab") from None
        if not isinstance(claim, dict) or "fingerprint" not in claim:
            raise ValueError(f"{path} is not an alignlab run claim")
        return claim

    def stored_spec(self) -> dict[str, Any] | None:
        """The spec mapping the run was started with, or None for a new run directory."""
        claim = self.claim()
        return None if claim is None else claim["spec"]

    def open_for(self, study: str, spec: dict[str, Any], spec_yaml: str, fingerprint: str) -> bool:
        """Claim the run directory for a spec in one atomic step; True when resuming.

        The claim is one file renamed into place, so a crash leaves the directory either
        unclaimed (and the same command starts it) or claimed (and it resumes).

        Raises
        ------
        FileExistsError
            The directory holds a run of a different spec or store format, or other files.
        """
        claim = self.claim()
        if claim is not None:
            if claim.get("format") != STORE_FORMAT:
                raise FileExistsError(
                    f"{self.root} holds a run of an older alignlab (store format "
                    f"{claim.get('format')}, this one {STORE_FORMAT}); results are never mixed. "
                    f"Use a new run directory, or delete {self.root} to start over."
                )
            if claim["fingerprint"] != fingerprint:
                raise FileExistsError(
                    f"{self.root} holds a run of a different spec (fingerprint "
                    f"{claim['fingerprint']}, this spec {fingerprint}); results are never mixed. "
                    f"Use a new run directory, or delete {self.root} to start over."
                )
            if not self.spec_path.is_file():
                atomic_write_text(self.spec_path, spec_yaml)
            return True
        if self.root.exists() and not self.root.is_dir():
            raise FileExistsError(f"{self.root} is a file; choose a directory for the run")
        if (self.root / "fingerprint").is_file():
            raise FileExistsError(
                f"{self.root} holds a run of an older alignlab (store format 1); results are "
                f"never mixed. Use a new run directory, or delete {self.root} to start over."
            )
        if self.root.exists() and any(self.root.iterdir()):
            raise FileExistsError(
                f"{self.root} is not empty and holds no alignlab run; choose a new run directory"
            )
        payload = {"format": STORE_FORMAT, "study": study, "fingerprint": fingerprint, "spec": spec}
        atomic_write_text(self.root / CLAIM, json.dumps(payload, indent=1, default=str) + "\n")
        atomic_write_text(self.spec_path, spec_yaml)
        return False

    # -- jobs -------------------------------------------------------------------------------
    def _job_path(self, phase: str, key: str, suffix: str) -> Path:
        return self.root / "jobs" / phase / f"{key}{suffix}"

    def is_done(self, phase: str, key: str) -> bool:
        return self._job_path(phase, key, ".parquet").is_file()

    def done_keys(self, phase: str) -> set[str]:
        folder = self.root / "jobs" / phase
        if not folder.is_dir():
            return set()
        return {p.stem for p in folder.glob("*.parquet")}

    def save_job(
        self, phase: str, key: str, rows: list[dict[str, Any]], tensors: dict | None = None
    ) -> None:
        """Store one finished job: its tensors first, then its rows (the 'done' mark)."""
        if tensors is not None:
            buffer = io.BytesIO()
            torch.save(tensors, buffer)
            atomic_write_bytes(self._job_path(phase, key, ".pt"), buffer.getvalue())
        frame = pd.DataFrame(rows)
        atomic_write_bytes(self._job_path(phase, key, ".parquet"), frame_to_parquet_bytes(frame))

    def job_rows(self, phase: str, key: str) -> pd.DataFrame:
        return pd.read_parquet(self._job_path(phase, key, ".parquet"))

    def job_tensors(self, phase: str, key: str) -> dict:
        path = self._job_path(phase, key, ".pt")
        return torch.load(path, map_location="cpu", weights_only=True)

    # -- tables -----------------------------------------------------------------------------
    def assemble(self, phase: str, keys: Iterable[str]) -> pd.DataFrame:
        """Concatenate the rows of ``keys`` in order and write ``tables/<table>.parquet``."""
        frames = [self.job_rows(phase, k) for k in keys]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        path = self.root / "tables" / f"{TABLE_OF_PHASE[phase]}.parquet"
        atomic_write_bytes(path, frame_to_parquet_bytes(frame))
        return frame

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``tables/<name>.parquet`` atomically."""
        path = self.root / "tables" / f"{name}.parquet"
        atomic_write_bytes(path, frame_to_parquet_bytes(frame))

    def table(self, name: str) -> pd.DataFrame:
        path = self.root / "tables" / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the run has not finished")
        return pd.read_parquet(path)
