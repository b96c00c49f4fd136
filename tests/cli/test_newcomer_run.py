"""What `alignlab run` says before its first job, and `alignlab version`."""

import io
from types import SimpleNamespace

from rich.console import Console
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.cli import run as run_cli


def recorded(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(run_cli, "console", Console(file=out, width=200))
    return out


def test_building_avdigits_is_announced(monkeypatch):
    out = recorded(monkeypatch)
    run_cli._preparing(SimpleNamespace(study="multibench", dataset="avdigits")).stop()
    assert out.getvalue().startswith("preparing: building the avdigits dataset")


def test_other_studies_say_they_prepare(monkeypatch):
    out = recorded(monkeypatch)
    run_cli._preparing(SimpleNamespace(study="multibench", dataset="mosi")).stop()
    run_cli._preparing(SimpleNamespace(study="synthetic")).stop()
    assert out.getvalue().splitlines() == [
        "preparing: loading the mosi data",
        "preparing the synthetic study's inputs",
    ]


def test_version_lists_the_main_dependencies():
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names[0] == "alignlab"
    for dep in ("torch", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "pydantic"):
        assert dep in names, result.output


def test_the_avdigits_preset_resolves_to_the_full_set_with_enough_models():
    from alignlab.analysis.multibench_report import MIN_MODELS
    from alignlab.experiments.spec import preset_expected_minutes, resolve_spec
    from alignlab.studies.multibench.spec import MultiBenchStudySpec

    spec = resolve_spec(MultiBenchStudySpec, "avdigits", None, [], {})
    assert (spec.dataset, spec.size, spec.n_train) == ("avdigits", "full", 2000)
    assert len(spec.depths) * len(spec.seeds) >= MIN_MODELS  # not a smoke test by size
    assert preset_expected_minutes("multibench", "avdigits") <= 20
