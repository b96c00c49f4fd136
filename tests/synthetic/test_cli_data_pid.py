"""`alignlab data synthetic` shows the BROJA decomposition beside MMI, or says why it cannot."""

import json

import pytest
from typer.testing import CliRunner

import alignlab.data.pid as pid
from alignlab.cli import app
from alignlab.data.synthetic import SyntheticConfig, information_content

runner = CliRunner()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNLAB_CACHE", str(tmp_path / "cache"))


def _pid_rows(output: str) -> dict[str, list[float]]:
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│| ").split("│")]
        if cells and cells[0].startswith("PID "):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


@pytest.mark.skipif(not pid.dit_available(), reason="needs dit (the pid extra)")
def test_broja_beside_mmi_at_r7(tmp_path):
    # r = 7: U = 1, u1 = 0, u2 = 1. MMI gives modality 1 no unique information and so does BROJA
    # (modality 1's task bits are a function of modality 2's), but their redundancies agree
    # only because the unique term is zero: R = I(X1; Y) in both.
    out = tmp_path / "s.json"
    result = runner.invoke(app, ["data", "synthetic", "--r", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "MMI" in result.output and "BROJA" in result.output
    rows = _pid_rows(result.output)
    expected = pid.broja_pid(SyntheticConfig(r=7))
    info = information_content(SyntheticConfig(r=7)).as_dict()
    assert rows["PID unique 2"] == pytest.approx(
        [round(info["pid_unique2_bits"], 4), round(expected.unique2, 4)], abs=1e-4
    )
    assert rows["PID redundancy"][0] == pytest.approx(info["pid_redundancy_bits"], abs=1e-4)
    assert rows["PID unique 1"][1] == 0.0 and expected.unique1 == 0.0
    assert rows["PID synergy"][1] == pytest.approx(expected.synergy, abs=1e-4)
    summary = json.loads(out.read_text())
    assert summary["broja"]["unique2_bits"] == pytest.approx(expected.unique2, abs=1e-12)
    assert summary["broja"]["method"] == "closed form" and summary["broja_missing"] is None
    total = sum(
        summary["broja"][f"{k}_bits"] for k in ("redundancy", "unique1", "unique2", "synergy")
    )
    assert total == pytest.approx(info["mi_x1x2_y_bits"], abs=1e-9)


def test_without_dit_one_line_names_the_pid_extra(monkeypatch):
    def missing():
        raise ImportError("no dit")

    monkeypatch.setattr(pid, "_admui", missing)
    result = runner.invoke(app, ["data", "synthetic", "--r", "7"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "BROJA" in line]
    assert len(lines) == 1 and "pid extra" in lines[0] and "alignlab[pid]" in lines[0]
    assert "PID synergy" in result.output  # the MMI column is still there


def test_no_broja_skips_it():
    result = runner.invoke(app, ["data", "synthetic", "--r", "7", "--no-broja"])
    assert result.exit_code == 0, result.output
    assert "BROJA" not in result.output and "MMI" in result.output
