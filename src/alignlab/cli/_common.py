"""What every command shares: the console, user errors versus bugs, small helpers."""

from __future__ import annotations

import contextlib
import json
import traceback
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
               IsADirectoryError, PermissionError, ImportError)  # fmt: skip


def _one_line(exc: BaseException) -> str:
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
        message = f"{exc.filename}: {exc.strerror or message}"
    return " ".join(str(message).split())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn user mistakes into one line on stderr and exit code 2; show anything else as a bug.

    A user mistake is an invalid spec (pydantic's ValidationError), a bad value (ValueError), a
    missing or unwritable path (OSError), a missing extra (ImportError) or jobs that failed
    (JobsFailed, whose message says how to retry). Any other exception is a bug in alignlab:
    its traceback is shown, with a line saying so, and the exit code is 1.
    """
    from pydantic import ValidationError

    from alignlab.experiments import JobsFailed
    from alignlab.experiments.executors import ClusterStartError

    try:
        yield
    except typer.Exit:
        raise
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}"
            + ("" if isinstance(e.get("input"), dict) else f" (got {e.get('input')!r})")
            for e in exc.errors()
        )
        err_console.print(
            f"[bold red]error:[/] invalid settings: {problems}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    except (*USER_ERRORS, JobsFailed, ClusterStartError) as exc:
        err_console.print(f"[bold red]error:[/] {_one_line(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted: what finished is stored; run the same command to resume")
        raise typer.Exit(130) from None
    except Exception:
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
