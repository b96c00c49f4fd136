"""Progress never sits still: a ticking activity column, and a quiet run's heartbeat line."""

import io
import time
from dataclasses import dataclass

from rich.console import Console

from alignlab.experiments._progress import ActivityColumn, Display


@dataclass(frozen=True)
class Job:
    phase: str
    key: str
    label: str


def quiet_display(heartbeat_s: float) -> tuple[Display, io.StringIO]:
    out = io.StringIO()
    return Display(True, Console(file=out, width=200), heartbeat_s=heartbeat_s), out


def test_quiet_lines_count_jobs_and_name_them_by_label():
    display, out = quiet_display(60)
    with display.bar("train", 155) as bar:
        for i in range(12):
            bar.done(Job("train", f"k{i}", f"train U=4 D_phi=3 depth {i}"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "train: 155 job(s)"
    assert lines[-1] == "job 12 / 155 (train U=4 D_phi=3 depth 11) done"


def test_a_pack_counts_as_the_jobs_it_holds():
    from alignlab.experiments.jobpack import JobPack

    display, out = quiet_display(60)
    pack = JobPack(tuple(Job("train", f"k{i}", f"train depth {i}") for i in range(3)))
    with display.bar("train", 5) as bar:
        bar.done(Job("train", "a", "train depth 9"))
        bar.done(pack)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "jobs 2-4 / 5 (train depth 0 and 2 more cell(s)) done"
    assert bar.count == 4


def test_a_quiet_run_that_waits_logs_that_it_is_still_working():
    display, out = quiet_display(0.3)
    with display.bar("align", 4) as bar:
        bar.done(Job("align", "a", "align U=0"))
        time.sleep(1.2)
    beats = [line for line in out.getvalue().splitlines() if "still working" in line]
    assert beats and beats[0].startswith("align: 1 / 4 jobs done, ")
    assert len(beats) <= 4  # one per quiet period, not one per poll


def test_a_busy_quiet_run_logs_no_heartbeat():
    display, out = quiet_display(5)
    with display.bar("align", 3) as bar:
        for k in "abc":
            bar.done(Job("align", k, f"align {k}"))
    assert "still working" not in out.getvalue()


class FakeTask:
    def __init__(self, finished=False, **fields):
        self.fields, self.finished = fields, finished


def test_activity_column_ticks_with_the_step_or_the_wait():
    now = time.monotonic()
    col = ActivityColumn()
    assert str(col.render(FakeTask(step="assembling tables", since=now - 75))) == (
        "assembling tables (75 s)"
    )
    assert str(col.render(FakeTask(step="", last=now - 130))) == (
        "working: last job done 2 min 10 s ago"
    )
    assert str(col.render(FakeTask(step="", last=now - 2))) == ""
    assert str(col.render(FakeTask(finished=True, step="", last=now - 300))) == ""


def test_the_bar_shows_phase_count_elapsed_and_remaining():
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    display = Display(False, console)
    with display.bar("train encoders", 3) as bar:
        bar.done(Job("train", "a", "train U=0"))
        display.status("assembling tables")
    text = out.getvalue()
    assert "train encoders" in text and "1/3" in text and "left" in text
