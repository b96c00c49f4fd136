"""Several jobs of one phase as one unit of work (:class:`JobPack`), and the jobs any unit holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alignlab.experiments.spec import stable_hash


@dataclass(frozen=True)
class JobPack:
    """Jobs of one phase run as one unit of work: for populations too small to use a worker
    well alone (several cells of a study trained as one population). Nothing downstream sees
    the pack: each part is stored under its own key, as if it had run alone."""

    parts: tuple[Any, ...]

    @property
    def phase(self) -> str:
        return self.parts[0].phase

    @property
    def key(self) -> str:
        return stable_hash([part.key for part in self.parts])

    @property
    def label(self) -> str:
        more = len(self.parts) - 1
        return self.parts[0].label + (f" and {more} more cell(s)" if more else "")


def parts_of(job: Any) -> tuple[Any, ...]:
    """The jobs one unit of work holds: a pack's parts, or the job itself."""
    return job.parts if isinstance(job, JobPack) else (job,)
