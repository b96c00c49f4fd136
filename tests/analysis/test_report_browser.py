"""The report opens in a real browser: headless Chromium loads every figure and the summary.

Chromium comes from Debian's ``chromium`` package (``scripts/ensure-chromium.sh`` installs it,
``make test`` runs that script); where it cannot be installed this test skips and says why.
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from alignlab.analysis.figures import FIGURES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed and could not be: run scripts/ensure-chromium.sh "
    "(apt-get install chromium) to run the report's browser test",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_every_figure_loads_and_the_summary_is_there(small_report, tmp_path):
    done = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", small_report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    marker = re.search(r'<body[^>]*data-images-ok="(\d+)/(\d+)"', dom)
    assert marker, "the page's load check did not run: " + dom[:500]
    loaded, total = map(int, marker.groups())
    assert total == len(FIGURES) and loaded == total
    summary = re.search(r'<table id="summary">.*?</table>', dom, re.S)
    assert summary and summary.group(0).count("<tr>") == 10


def test_screenshot_is_not_blank(small_report, tmp_path):
    shot = tmp_path / "shot.png"
    done = chromium(
        tmp_path, "--window-size=1280,3000", f"--screenshot={shot}", small_report.as_uri()
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = imread(shot)[..., :3]  # (height, width, rgb) in [0, 1]
    assert pixels.shape[:2] == (3000, 1280)  # the findings tables come before the figures
    not_white = (pixels < 0.95).any(axis=2).mean()
    colourful = (np.ptp(pixels, axis=2) > 0.2).mean()  # the figures' colour maps
    assert not_white > 0.05 and colourful > 0.005
