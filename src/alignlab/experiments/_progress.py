"""Progress of an executor: the rich bar of the current run, the spinner of a sub-step between
runs, or one log line per finished job when quiet.

Nothing sits still while work goes on: the bar has a spinner and says how long ago the last job
finished (or how long its sub-step has run), and a quiet run logs a "still working" line when
:data:`HEARTBEAT_S` seconds pass without one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from alignlab.experiments.jobpack import parts_of

HEARTBEAT_S = 60.0  # a quiet run logs "still working" after this long without a line
QUIET_AFTER_S = 10.0  # the bar says how long ago the last job finished once it is this long


def _seconds(s: float) -> str:
    s = int(s)
    return f"{s} s" if s < 120 else f"{s // 60} min {s % 60:02d} s"


class ActivityColumn(ProgressColumn):
    """The sub-step with its own ticking time, else the time since the last job finished."""

    def render(self, task: Task) -> Text:
        now = time.monotonic()
        step, since = task.fields.get("step", ""), task.fields.get("since", now)
        if step:
            return Text(f"{step} ({_seconds(now - since)})")
        idle = now - task.fields.get("last", now)
        if task.finished or idle < QUIET_AFTER_S:
            return Text("")
        return Text(f"working: last job done {_seconds(idle)} ago")


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
        self.started = time.monotonic()
        self.phase = ""

    def done(self, job: Any) -> None:
        self._advance(job, f"{self._which(job)} ({describe(job)}) done", None)

    def failed(self, job: Any, error: str) -> None:
        line = f"{self._which(job)} ({describe(job)}) failed: {error}"
        self._advance(job, line, f"[red]{escape(line)}[/]")

    def _which(self, job: Any) -> str:
        n = job_count(job)
        first = self.count + 1
        span = f"job {first}" if n == 1 else f"jobs {first}-{first + n - 1}"
        return f"{span} / {self.total}"

    def _advance(self, job: Any, line: str, shown: str | None) -> None:
        n = job_count(job)
        self.count += n
        if self._progress is None:
            self._display.log(line)
            return
        if shown is not None:
            self._progress.console.print(shown, highlight=False, soft_wrap=True)
        self._progress.update(self._task, advance=n, last=time.monotonic())

    def still_working(self) -> str:
        """The heartbeat line of a quiet run."""
        return (
            f"{self.count} / {self.total} jobs done, {_seconds(time.monotonic() - self.started)} "
            "elapsed; still working"
        )


def job_count(job: Any) -> int:
    """Jobs in one unit of work: a pack's parts, else 1."""
    return len(parts_of(job))


class Heartbeat:
    """Logs ``bar.still_working()`` whenever ``every`` seconds pass without a logged line."""

    def __init__(self, display: Display, bar: Bar, every: float) -> None:
        self._display, self._bar, self._every = display, bar, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self._every / 4)):
            if time.monotonic() - self._display.last_line >= self._every:
                self._display.log(f"{self._bar.phase}: {self._bar.still_working()}")


class Display:
    """The rich bar of the current run, the spinner of a sub-step, or quiet log lines."""

    def __init__(self, quiet: bool, console: Console, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.quiet, self.console, self.heartbeat_s = quiet, console, heartbeat_s
        self.last_line = time.monotonic()
        self.step: str | None = None
        self._bar: Progress | None = None
        self._bar_task: TaskID | None = None
        self._spinner: Progress | None = None

    def log(self, line: str) -> None:
        self.last_line = time.monotonic()
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def bar(self, phase: str, total: int) -> Iterator[Bar]:
        self.status(None)
        if self.quiet:
            self.log(f"{phase}: {total} job(s)")
            bar = Bar(self, None, None, total)
            bar.phase = phase
            with Heartbeat(self, bar, self.heartbeat_s):
                yield bar
            return
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            ActivityColumn(),
            console=self.console,
            refresh_per_second=4,
        )
        now = time.monotonic()
        self._bar_task = progress.add_task(escape(phase), total=total, step="", since=now, last=now)
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
            self._bar.update(self._bar_task, step=text or "", since=time.monotonic())
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
