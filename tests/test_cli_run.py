"""`alignlab run synthetic`, `status` and `report` from the command line on a tiny spec."""

import yaml
from typer.testing import CliRunner

from alignlab.cli import app

runner = CliRunner()

TINY = {
    "uniqueness": [0, 8],
    "dphi": [1],
    "depths1": [1],
    "depths2": [1, 2, 3],
    "align_depths1": [1],
    "lrs": [0.01],
    "wds": [0.0],
    "epochs1": 2,
    "epochs2": 2,
    "seeds": [0, 1],
    "n_samples": 2048,
    "n_align": 128,
    "metrics": [{"name": "unbiased_cka"}, {"name": "mutual_knn", "k": 10}],
}


def test_run_status_and_report(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    args = ["run", "synthetic", str(run_dir), "--config", str(spec), "--workers", "1", "--quiet"]
    result = runner.invoke(app, [*args, "--set", "epochs2=3"])
    assert result.exit_code == 0, result.output
    assert "max alignment" in result.output
    stored = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert stored["epochs2"] == 3 and stored["depths2"] == [1, 2, 3]

    result = runner.invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "train: 8 / 8 jobs done" in result.output and "finished" in result.output
    said = " ".join(result.output.split())
    assert f"finished; next: see the results with `alignlab report {run_dir}`" in said

    # the same directory with another spec: one-line error, exit 2, nothing written
    before = sorted(p.name for p in (run_dir / "jobs" / "train").iterdir())
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "different spec" in result.output
    assert sorted(p.name for p in (run_dir / "jobs" / "train").iterdir()) == before

    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report" / "index.html").is_file()


def test_bad_spec_values_are_one_line_errors(tmp_path):
    result = runner.invoke(
        app, ["run", "synthetic", str(tmp_path / "r"), "--set", "uniqueness=[9]"]
    )
    assert result.exit_code == 2
    assert "uniqueness" in result.output and "0..8" in result.output
    assert not (tmp_path / "r").exists()
    result = runner.invoke(app, ["status", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "holds no alignlab run" in result.output


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("align", "data", "run", "status", "report", "demo", "diagnose", "version"):
        assert name in result.output
