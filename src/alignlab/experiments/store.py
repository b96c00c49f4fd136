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

Crash safety, checked by ``tests/reliability/test_faults.py`` (which kills runs with
``ALIGNLAB_FAULT``, see :func:`alignlab._io.fault_point`):

- a run holds a lock on ``run.json`` while it works, so a second run of the same directory is
  refused and only an idle directory is cleaned;
- the temporary files a killed writer left (``.<name>.<random>.tmp``) are removed when the next
  run opens the directory (:meth:`RunStore.open_for`, :meth:`RunStore.sweep`), before it decides
  whether the directory is empty, so a kill inside the claim never blocks the same command;
- a job file found damaged when a run resumes (a Parquet file whose footer cannot be read, a
  ``.pt`` file whose zip directory cannot be read) is removed, so the job is computed again
  (:meth:`RunStore.drop_damaged_jobs`);
- :meth:`RunStore.discard` removes a run that failed before any job was stored, so a corrected
  command starts afresh.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignlab import _io
from alignlab.experiments.spec import STORE_FORMAT

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, a run is not guarded
    fcntl = None

if TYPE_CHECKING:
    import pandas as pd

TABLE_OF_PHASE = {"train": "models", "align": "alignments"}
CLAIM = "run.json"
#: ``phases`` (the study's phases in order), phase -> number of jobs (known from the spec at the
#: start, or as each phase is planned) and ``tables`` (name -> rows, when the run finished).
PLAN = "plan.json"


def read_plan(root: str | Path) -> dict[str, Any]:
    """``RUN_DIR/plan.json`` as a mapping ({} when missing or unreadable)."""
    try:
        plan = json.loads((Path(root) / PLAN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return plan if isinstance(plan, dict) else {}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    _io.atomic_write_bytes(path, data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def frame_to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a DataFrame as Parquet bytes (pyarrow, no index)."""
    # pandas and torch are imported where used, so that ``alignlab status`` stays light
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
        self._lock_fd: int | None = None

    # -- the claim and the spec ----------------------------------------------------------
    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    def claim(self) -> dict[str, Any] | None:
        """The run's claim (``format``, ``study``, ``fingerprint``, ``spec``), or None when the
        directory holds no alignlab run.

        Raises ValueError (one line naming ``run.json``) when the claim is not UTF-8, empty,
        invalid JSON or not an alignlab claim, and NotADirectoryError when the run directory is
        a file.
        """
        path = self.root / CLAIM
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is a file, not a run directory")
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not an alignlab run claim; move it away")
        if not path.is_file():
            return None
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not UTF-8 text; it was not written by alignlab") from None
        if not text.strip():
            raise ValueError(
                f"{path} is empty; it was not written by alignlab (delete {self.root} to start "
                "over)"
            )
        try:
            claim = json.loads(text)
        except ValueError:
            raise ValueError(f"{path} is not valid JSON; it was not written by alignlab") from None
        if not isinstance(claim, dict) or not {"fingerprint", "study", "spec"} <= set(claim):
            raise ValueError(f"{path} is not an alignlab run claim")
        return claim

    def stored_spec(self) -> dict[str, Any] | None:
        """The spec mapping the run was started with, or None for a new run directory."""
        claim = self.claim()
        return None if claim is None else claim["spec"]

    def check_target(self) -> None:
        """Refuse, before any work, a directory :meth:`open_for` would refuse whatever the spec:
        a file, a folder that cannot be written, a non-empty folder that holds no run (ignoring
        temporary files of a killed claim), a run of another store format, a run in use now.
        Changes nothing."""
        claim = self.claim()
        if claim is not None:
            if claim.get("format") != STORE_FORMAT:
                raise FileExistsError(self._older(claim.get("format")))
            if self.in_use():
                raise FileExistsError(self._busy())
            return
        _io.check_writable(self.root, "folder")
        if (self.root / "fingerprint").is_file():
            raise FileExistsError(self._older(1))
        if not self.root.is_dir():
            return
        killed = set(self.root.glob(f".*{_io.TMP_SUFFIX}"))
        if any(p not in killed for p in self.root.iterdir()):
            raise FileExistsError(self._foreign())

    def _older(self, found: Any) -> str:
        return (
            f"{self.root} holds a run of an older alignlab (store format {found}, this one "
            f"{STORE_FORMAT}); results are never mixed. Use a new run directory, or delete "
            f"{self.root} to start over."
        )

    def _busy(self) -> str:
        return (
            f"{self.root} is in use by another alignlab run right now; wait for it to end "
            "(`alignlab status` shows its progress) or stop it, then run again"
        )

    def _foreign(self) -> str:
        return f"{self.root} is not empty and holds no alignlab run; choose a new run directory"

    def open_for(self, study: str, spec: dict[str, Any], spec_yaml: str, fingerprint: str) -> bool:
        """Claim the run directory for a spec in one atomic step; True when resuming.

        The claim is one file renamed into place, so a crash leaves the directory either
        unclaimed (and the same command starts it) or claimed (and it resumes). The directory
        stays locked until :meth:`release`; temporary files of killed writers are removed first.

        Raises
        ------
        FileExistsError
            The directory holds a run of a different spec or store format, or other files, or
            another run is using it now.
        """
        claim = self.claim()
        if claim is not None:
            if claim.get("format") != STORE_FORMAT:
                raise FileExistsError(self._older(claim.get("format")))
            if claim["fingerprint"] != fingerprint:
                raise FileExistsError(
                    f"{self.root} holds a run of a different spec (fingerprint "
                    f"{claim['fingerprint']}, this spec {fingerprint}); results are never mixed. "
                    f"Use a new run directory, or delete {self.root} to start over."
                )
            self._lock()
            self.sweep()
            if not self.spec_path.is_file() or self.spec_path.read_bytes() != spec_yaml.encode():
                atomic_write_text(self.spec_path, spec_yaml)  # missing or damaged copy
            return True
        _io.check_writable(self.root, "folder")
        if (self.root / "fingerprint").is_file():
            raise FileExistsError(self._older(1))
        self.sweep()  # a claim interrupted by a kill leaves only its temporary file
        if self.root.exists() and any(self.root.iterdir()):
            raise FileExistsError(self._foreign())
        payload = {"format": STORE_FORMAT, "study": study, "fingerprint": fingerprint, "spec": spec}
        atomic_write_text(self.root / CLAIM, json.dumps(payload, indent=1, default=str) + "\n")
        self._lock()
        atomic_write_text(self.spec_path, spec_yaml)
        return False

    # -- the lock, temporary files, damaged jobs, discarding ----------------------------------
    def _lock(self) -> None:
        """Hold an exclusive lock on ``run.json`` until :meth:`release` (or this process ends)."""
        if self._lock_fd is not None or fcntl is None:
            return
        fd = os.open(self.root / CLAIM, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FileExistsError(self._busy()) from None
        self._lock_fd = fd

    def release(self) -> None:
        """Let go of the lock taken by :meth:`open_for`."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def in_use(self) -> bool:
        """True while another run (of this or another process) holds the directory's lock."""
        return self._lock_fd is None and _io.is_locked(self.root / CLAIM)

    def sweep(self) -> list[Path]:
        """Remove the temporary files killed writers left in the run directory (never while
        another run holds it); returns the paths removed."""
        return [] if self.in_use() else _io.remove_temporary(self.root)

    def drop_damaged_jobs(self) -> list[str]:
        """Remove every job whose files cannot be read (truncated or foreign), so that it is
        computed again; returns ``"<phase>/<key>"`` of each. Reads only Parquet footers and zip
        directories, so it is fast."""
        dropped = []
        folder = self.root / "jobs"
        for rows in sorted(folder.glob("*/*.parquet")) if folder.is_dir() else []:
            tensors = rows.with_suffix(".pt")
            if _parquet_ok(rows) and (not tensors.exists() or _zip_ok(tensors)):
                continue
            tensors.unlink(missing_ok=True)
            rows.unlink(missing_ok=True)
            dropped.append(f"{rows.parent.name}/{rows.stem}")
        return dropped

    def has_jobs(self) -> bool:
        """True when at least one job's rows are stored."""
        folder = self.root / "jobs"
        return folder.is_dir() and any(folder.glob("*/*.parquet"))

    def discard(self, top: Path | None = None) -> None:
        """Remove this run (which stored no job): the directory, or, when it existed before,
        only what the run wrote in it; ``top`` is the outermost folder the run created."""
        self.release()
        if top is not None and top.is_dir():
            shutil.rmtree(top, ignore_errors=True)
            return
        for name in (CLAIM, "spec.yaml", "environment.json", "plan.json", "README.md"):
            (self.root / name).unlink(missing_ok=True)
        for name in ("jobs", "tables"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        _io.remove_temporary(self.root)

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
        import pandas as pd
        import torch

        if tensors is not None:
            buffer = io.BytesIO()
            torch.save(tensors, buffer)
            atomic_write_bytes(self._job_path(phase, key, ".pt"), buffer.getvalue())
        frame = pd.DataFrame(rows)
        atomic_write_bytes(self._job_path(phase, key, ".parquet"), frame_to_parquet_bytes(frame))

    def job_rows(self, phase: str, key: str) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self._job_path(phase, key, ".parquet"))

    def job_tensors(self, phase: str, key: str) -> dict:
        import torch

        path = self._job_path(phase, key, ".pt")
        return torch.load(path, map_location="cpu", weights_only=True)

    # -- tables -----------------------------------------------------------------------------
    def assemble(self, phase: str, keys: Iterable[str]) -> pd.DataFrame:
        """Concatenate the rows of ``keys`` in order and write ``tables/<table>.parquet``."""
        import pandas as pd

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
        import pandas as pd

        return pd.read_parquet(path)


def _parquet_ok(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        return False
    return True


def _zip_ok(path: Path) -> bool:
    """torch.save writes a zip archive: a truncated one has lost its directory at the end."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet, or None."""
    path = Path(path).expanduser().absolute()
    top = None
    while not path.exists() and path != path.parent:
        top, path = path, path.parent
    return top
