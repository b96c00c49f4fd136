"""Progress of an executor: the rich bar of the current run, the spinner of a sub-step between
runs, or one log line per finished job when quiet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def describe(job: Any) -> str:
    """A job's ``label``, or ``"<phase> <key>"`` when it has none."""
    label = getattr(job, "label", None)
    return str(label) if label else f"{job.phase} {job.key}"


class Status:
    """What :meth:`Executor.status` returns: ``with`` it to clear the sub-step at the end."""

    def __init__(self, display: Display, text: str | None) -> None:
        self._display, self._text = display, text

    def __enter__(self) -> Status:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display.step == self._text:
            self._display.status(None)


class Bar:
    """Counts the finished jobs of one run and shows each (a log line when quiet)."""

    def __init__(self, display: Display, progress: Progress | None, task: TaskID | None,
                 total: int) -> None:
        self._display, self._progress, self._task = display, progress, task
        self.total, self.count = total, 0

    def done(self, job: Any) -> None:
        self._advance(f"job {self.count + 1} / {self.total} ({describe(job)}) done", None)

    def failed(self, job: Any, error: str) -> None:
        line = f"job {self.count + 1} / {self.total} ({describe(job)}) failed: {error}"
        self._advance(line, f"[red]{escape(line)}[/]")

    def _advance(self, line: str, shown: str | None) -> None:
        self.count += 1
        if self._progress is None:
            self._display.log(line)
            return
        if shown is not None:
            self._progress.console.print(shown, highlight=False, soft_wrap=True)
        self._progress.advance(self._task)


class Display:
    """The rich bar of the current run, the spinner of a sub-step, or quiet log lines."""

    def __init__(self, quiet: bool, console: Console) -> None:
        self.quiet, self.console = quiet, console
        self.step: str | None = None
        self._bar: Progress | None = None
        self._bar_task: TaskID | None = None
        self._spinner: Progress | None = None

    def log(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def bar(self, phase: str, total: int) -> Iterator[Bar]:
        self.status(None)
        if self.quiet:
            self.log(f"{phase}: {total} job(s)")
            yield Bar(self, None, None, total)
            return
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[step]}"),
            console=self.console,
            refresh_per_second=4,
        )
        self._bar_task = progress.add_task(escape(phase), total=total, step="")
        self._bar = progress
        progress.start()
        try:
            yield Bar(self, progress, self._bar_task, total)
            self.status(None)
        finally:
            self._bar = None
            progress.stop()

    def status(self, text: str | None) -> None:
        self.step = text
        if self._bar is not None:
            self._bar.update(self._bar_task, step=escape(text or ""))
            self._bar.refresh()
            return
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        if not text:
            return
        if self.quiet or not self.console.is_terminal:  # a log, not a screen: one line
            self.log(text)
            return
        spinner = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            refresh_per_second=4,
        )
        spinner.add_task(escape(text), total=None)
        spinner.start()
        self._spinner = spinner
