"""Memory budgets of the all-layer-pairs engine: parsing, the default, and what a path needs.

A budget is the number of bytes the engine may hold beyond the features themselves (prepared
``(n, n)`` stacks, blocks of rows, the permutation null's work space). It is given as a number
of bytes or a size such as ``"2GB"`` / ``"512MiB"``; None takes half of the memory the device
has free now (CPU: ``MemAvailable`` of ``/proc/meminfo``, else physical memory; CUDA:
``torch.cuda.mem_get_info``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import torch

UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
DEFAULT_FRACTION = 0.5  # of the free memory, when no budget is given
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_budget(budget: Any) -> int:
    """Bytes from a positive number of bytes or a size string (``"2GB"``, ``"1.5GiB"``)."""
    value: float | None = None
    if isinstance(budget, int | float | np.integer | np.floating) and not isinstance(budget, bool):
        value = float(budget)
    elif isinstance(budget, str) and (match := _SIZE.match(budget)):
        unit = match.group(2).lower()
        if unit in UNITS:
            value = float(match.group(1)) * UNITS[unit]
    if value is None or not np.isfinite(value) or value < 1:
        raise ValueError(
            f"memory_budget must be a positive number of bytes or a size such as '2GB' or "
            f"'512MiB'; got {budget!r}."
        )
    return int(value)


def free_bytes(device: torch.device) -> int:
    """Memory free on ``device`` now, in bytes."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def resolve_budget(budget: Any, device: torch.device) -> int:
    """The budget in bytes: parsed, or :data:`DEFAULT_FRACTION` of the free memory."""
    if budget is None:
        return max(1, int(DEFAULT_FRACTION * free_bytes(device)))
    return parse_budget(budget)


def human(nbytes: float) -> str:
    """``1.5e9 -> '1.50 GB'``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{int(nbytes)} B"
