"""Atomic file writes shared by every layer: a crash leaves the whole file or none of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """Where alignlab keeps what it can rebuild (datasets, compiled kernels):
    ``$ALIGNLAB_CACHE`` if set, else ``~/.cache/alignlab``."""
    env = os.environ.get("ALIGNLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "alignlab"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The temporary file is ``.<name>.<random>.tmp`` beside ``path``; a process killed while
    writing leaves one behind, which :func:`remove_temporary` clears. The file gets the
    permissions a plain ``open(path, "wb")`` would give (0666 less the umask), not the private
    0600 of a temporary file.

    Raises
    ------
    IsADirectoryError, NotADirectoryError, PermissionError
        ``path`` is a folder, a file stands where a folder of ``path`` should be, or the folder
        cannot be written; each message names the path.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> atomic_write_bytes(target, b"hello")
    >>> target.read_bytes()
    b'hello'
    """
    path = Path(path)
    check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        fault_point("write", path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fault_point("renamed", path)


TMP_SUFFIX = ".tmp"


def is_locked(path: str | Path) -> bool:
    """True while a process holds an exclusive ``flock`` on the file ``path`` (an alignlab run
    holds one on its ``run.json``); False for a missing file or where locks do not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock taken just now
    return False


def remove_temporary(folder: str | Path, unless_locked: str | None = None) -> list[Path]:
    """Remove the temporary files (``.<name>.<random>.tmp``) that writers killed in ``folder``
    and its subfolders left behind; returns the paths removed. Call it only where no other
    process is writing: with ``unless_locked="run.json"`` nothing is removed while a run holds
    the lock on ``folder/run.json`` (the way a report cleans a run directory)."""
    removed = []
    root = Path(folder)
    if not root.is_dir() or (unless_locked and is_locked(root / unless_locked)):
        return removed
    for tmp in root.rglob(f".*{TMP_SUFFIX}"):
        if tmp.is_file() and tmp.name.count(".") >= 3:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def check_writable(path: str | Path, kind: str = "file") -> None:
    """Check, before any work, that a ``kind`` ("file" or "folder") can be written at ``path``:
    it is not a folder (for a file) or a file (for a folder), no file stands where one of its
    folders should be, and the nearest existing folder is writable. Raises an OSError subclass
    whose message names the path and the problem in one line.

    >>> check_writable("/etc/passwd/x.json")
    Traceback (most recent call last):
    ...
    NotADirectoryError: cannot write /etc/passwd/x.json: /etc/passwd is a file, not a folder
    """
    path = Path(path).expanduser()
    if kind == "file" and path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write into {path}: it is a file, not a folder")
    parent = path if kind == "folder" else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
    try:  # the one sure test, for root too: create (and drop) a nameless file there
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise PermissionError(
            f"cannot write {path}: {parent} is not writable ({exc.strerror or exc}); choose a "
            "folder you can write"
        ) from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


# -- fault injection, for the tests of crash safety ---------------------------------------------
FAULT_ENV = "ALIGNLAB_FAULT"
_fault_counts: dict[str, int] = {}


def fault_point(point: str, path: str | Path | None = None) -> None:
    """Kill this process with SIGKILL at a chosen point, when ``$ALIGNLAB_FAULT`` asks for it.

    ``ALIGNLAB_FAULT=POINT:COUNT`` kills at the COUNT-th time (1-based) this process reaches
    POINT; ``POINT=NAME:COUNT`` counts only the times it is reached for a file called NAME. The
    points are ``write`` (inside :func:`atomic_write_bytes`: the temporary file is written, not yet
    renamed into place; the first write of a new run is its claim, ``run.json``) and ``renamed``
    (just after a file is renamed into place, before the next one). For example
    ``ALIGNLAB_FAULT=write=alignments.parquet:1`` kills a run inside its final table assembly.
    Unset (always, outside tests), this does nothing but read one environment variable.
    """
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    spec, _, count = wanted.rpartition(":")
    name, _, file = spec.partition("=")
    if name != point or (file and (path is None or Path(path).name != file)):
        return
    _fault_counts[spec] = _fault_counts.get(spec, 0) + 1
    if str(_fault_counts[spec]) == count.strip():
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
