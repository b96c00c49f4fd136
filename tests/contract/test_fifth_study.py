"""A new study written against the public contract only, run end to end through the CLI's
`run`, `status` and `report` machinery: the contract is enough to add a study."""

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
import torch

from alignlab.analysis.report import write_report
from alignlab.experiments import (
    ExecutorConfig,
    Prepared,
    Study,
    StudySpec,
    register_study,
    run_status,
    run_study,
    stable_hash,
)
from alignlab.experiments.packing import align_packed
from alignlab.experiments.seeds import derive_seed


class ToySpec(StudySpec):
    """Random linear 'encoders' of one shared signal, aligned with a reference."""

    study: Literal["toy"] = "toy"
    widths: list[int] = [2, 4, 8]
    n: int = 64
    seed: int = 0


@dataclass(frozen=True)
class ToyJob:
    width: int
    spec: dict[str, Any] = field(repr=False, compare=False)
    phase: str = "align"

    @property
    def key(self) -> str:
        return stable_hash([self.phase, self.width, self.spec])

    @property
    def label(self) -> str:
        return f"align width {self.width}"


def _signal(spec: dict, width: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(derive_seed(spec["seed"], width))
    base = torch.Generator().manual_seed(spec["seed"])
    z = torch.randn(spec["n"], 2, generator=base)  # the shared signal
    q, _ = torch.linalg.qr(torch.randn(width, 2, generator=g))  # orthonormal columns
    return z @ q.T  # a rotated copy of the signal: linear CKA 1 with the reference


def toy_job(job: ToyJob):
    reference = [_signal(job.spec, 3)]
    packed = align_packed(reference, [[_signal(job.spec, job.width)]], "cka")
    return [{"key": job.key, "width": job.width, "score": packed[0].score}], None


def _run(ctx, spec: ToySpec, prepared: Prepared):
    raw = spec.model_dump(mode="json")
    keys = ctx.run_phase("align", [ToyJob(w, raw) for w in spec.widths], toy_job, "align toys")
    return {"alignments": ctx.write_table("alignments", ctx.rows("align", keys))}


TOY = Study(
    name="toy",
    spec_type=ToySpec,
    phases=("align",),
    prepare=lambda spec: Prepared(notices=("toy data: nothing to load",)),
    run=_run,
    totals=lambda spec, store: {"align": len(spec.widths)},
    summary=lambda tables: [f"mean score {tables['alignments']['score'].mean():.3f}"],
)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    register_study(TOY)
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    outcome = run_study(ToySpec(), run_dir, ExecutorConfig(workers=1, quiet=True))
    return run_dir, outcome


def test_a_new_study_runs_resumes_and_reports_through_the_contract(toy_run):
    run_dir, outcome = toy_run
    frame = pd.read_parquet(run_dir / "tables" / "alignments.parquet")
    # every view is an isometric copy of the same 2-d signal: linear CKA is 1 at every width
    np.testing.assert_allclose(frame["score"], 1.0, atol=1e-5)
    assert outcome.jobs_run == {"align": 3}
    status = run_status(run_dir)
    assert status.study == "toy" and status.phases == {"align": (3, 3)} and status.finished
    again = run_study(ToySpec(), run_dir, ExecutorConfig(workers=1, quiet=True))
    assert again.jobs_run == {"align": 0}
    index = write_report(run_dir)
    page = index.read_text()
    assert "toy study" in page and 'id="alignments"' in page
    readme = (run_dir / "README.md").read_text()
    assert "tables/alignments.parquet`: 3 rows" in readme and "docs/tables.md" in readme


def test_the_cli_runs_status_for_the_new_study(toy_run):
    from typer.testing import CliRunner

    from alignlab.cli import app

    run_dir, _ = toy_run
    result = CliRunner().invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "toy study" in result.output and "align: 3 / 3 jobs done" in result.output


def test_a_spec_of_another_study_cannot_register_under_a_wrong_name():
    bad = Study("other", ToySpec, ("align",), TOY.prepare, TOY.run, TOY.totals)
    with pytest.raises(ValueError, match="declares study='toy'"):
        register_study(bad)
