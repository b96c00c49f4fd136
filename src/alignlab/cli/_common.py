"""What every command shares: the console, user errors versus bugs, small helpers."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
               IsADirectoryError, PermissionError, ImportError)  # fmt: skip


def _format_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a file reader raises for a file that is truncated or of another format."""
    import pickle
    import zipfile

    found: list[type[BaseException]] = [
        EOFError, zipfile.BadZipFile, pickle.UnpicklingError, UnicodeDecodeError
    ]  # fmt: skip
    import yaml

    found.append(yaml.YAMLError)  # a --set value parsed by a command's own code
    try:
        from safetensors import SafetensorError

        found.append(SafetensorError)
    except ImportError:  # pragma: no cover - safetensors is a dependency
        pass
    return tuple(found)


def _is_yaml_error(exc: BaseException) -> bool:
    import yaml

    return isinstance(exc, yaml.YAMLError)


def _file_being_read(exc: BaseException) -> Path | None:
    """The file an alignlab function was reading when a library raised ``exc``, else None.

    That is the ``path`` argument (an existing file) of the innermost alignlab frame, when the
    error itself was raised outside alignlab (numpy, safetensors, pyarrow, pickle), whose
    messages do not name the file.
    """
    tb, found, last_module = exc.__traceback__, None, ""
    while tb is not None:
        frame = tb.tb_frame
        last_module = frame.f_globals.get("__name__", "")
        if last_module.startswith("alignlab.") and not last_module.startswith("alignlab.cli"):
            value = frame.f_locals.get("path")
            if isinstance(value, str | os.PathLike) and Path(value).is_file():
                found = Path(value)
        tb = tb.tb_next
    return None if last_module.startswith("alignlab") else found


def _unreadable(exc: BaseException, path: Path) -> str:
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return (
        f"{path} cannot be read ({type(exc).__name__}: {detail}); it may be empty, truncated or "
        "of another format"
    )


def _yaml_problem(exc: BaseException) -> str:
    """A YAML error as one line naming the text that failed and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    text = getattr(mark, "buffer", None)
    where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
    shown = "" if not text else f"{text.rstrip(chr(0))!r} "
    return (
        f"the value {shown}is not valid YAML ({problem}{where}); write numbers as 5 or 1e-3, "
        "lists as [0, 1], text in quotes when it holds ':' or '#'"
    )


def _one_line(exc: BaseException) -> str:
    """The error as one line; an OSError names its path(s) and says what is wrong in words."""
    if _is_yaml_error(exc):
        return _yaml_problem(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start}: {exc.reason}); save the file as UTF-8"
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
        message = f"{names + ': ' if names else ''}{exc.strerror.lower()}" + _os_hint(exc)
    elif isinstance(exc, OSError) and str(message).strip().isdigit():  # OSError(17): "17"
        message = os.strerror(int(message)).lower() + _os_hint(exc)
    message = " ".join(str(message).split())
    if not message or message.isdigit():  # never a bare "error: 2"
        message = f"{type(exc).__name__}{': ' + message if message else ''}"
    return message


def _os_hint(exc: OSError) -> str:
    if isinstance(exc, FileExistsError):
        return " (a file is in the way of a folder)"
    if isinstance(exc, NotADirectoryError):
        return " (a file where a folder is expected)"
    if isinstance(exc, IsADirectoryError):
        return " (a folder where a file is expected)"
    if isinstance(exc, PermissionError) or exc.errno in (errno.EROFS, errno.EPERM):
        return "; choose a path you can write"
    return ""


_FIXES = {  # pydantic error type -> how to write a valid value
    "int_type": "write a whole number, e.g. --set {field}=5",
    "int_from_float": "write a whole number, e.g. --set {field}=5",
    "float_type": "write a number, e.g. --set {field}=0.5 or 1e-3",
    "bool_type": "write true or false",
    "list_type": "write a list, e.g. --set {field}=[1, 2]",
    "string_type": "write text, e.g. --set {field}=name",
    "missing": "give it in the spec file or with --set {field}=...",
    "extra_forbidden": "remove it or check its spelling",
}


def _problem(e: dict) -> str:
    """One pydantic error as ``field: what is wrong (got VALUE); how to fix it``."""
    field = ".".join(str(p) for p in e["loc"]) or "spec"
    msg = str(e["msg"])  # a validator's own message keeps pydantic's "Value error, " in front
    if e["type"] in ("int_type", "float_type") and isinstance(e.get("input"), bool):
        msg = f"{str(e['input']).lower()} is not a number"
    given = e.get("input")
    shown = isinstance(given, dict) or e["type"] == "missing" or "got " in msg
    got = "" if shown else f" (got {given!r})"
    fix = _FIXES.get(e["type"], "")
    top = str(e["loc"][0]) if e["loc"] else field
    return f"{field}: {msg}{got}" + (f"; {fix.format(field=top)}" if fix else "")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn user mistakes into one line on stderr and exit code 2; show anything else as a bug.

    A user mistake is an invalid spec (pydantic's ValidationError: each problem names the field,
    what is wrong, the value given and how to write a valid one), a bad value (ValueError), a
    missing or unwritable path (OSError, said as ``PATH: problem``), a missing extra
    (ImportError) or jobs that failed (JobsFailed, whose message says how to retry). A file that
    a library cannot read (numpy, safetensors, pickle, zip: empty, truncated or of another format)
    is a user mistake too, named by the ``path`` argument of the alignlab function that was
    reading it. Any other exception is a bug in alignlab: its traceback is shown, with a line
    saying so, and the exit code is 1.
    """
    from pydantic import ValidationError

    from alignlab.experiments import JobsFailed
    from alignlab.experiments.executors import ClusterStartError

    try:
        yield
    except typer.Exit:
        raise
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        err_console.print(
            f"[bold red]error:[/] invalid settings: {escape(problems)}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except (*USER_ERRORS, JobsFailed, ClusterStartError, *_format_errors()) as exc:
        path = _file_being_read(exc)
        if path is not None and str(path) not in str(exc):
            line = _unreadable(exc, path)
        elif isinstance(exc, _format_errors()) and not isinstance(exc, USER_ERRORS):
            if path is None and not _is_yaml_error(exc):  # not a file the user gave: a bug
                _show_bug()
            line = _one_line(exc)
        else:
            line = _one_line(exc)
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted: what finished is stored; run the same command to resume")
        raise typer.Exit(130) from None
    except Exception:
        _show_bug()


def _show_bug() -> None:
    """Show the exception being handled as a bug in alignlab, and exit with code 1."""
    err_console.print(traceback.format_exc(), highlight=False, markup=False)
    err_console.print(
        "[bold red]this is a bug in alignlab[/] (not a problem with your input): please "
        "report it with the traceback above.",
        highlight=False,
    )
    raise typer.Exit(1) from None


def out_path(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser()


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON through a temporary file in the same directory, then rename."""
    from alignlab._io import atomic_write_text

    atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")
