"""`alignlab align` with several metrics, a memory budget and memory-mapped feature files."""

import json

import numpy as np
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.metrics import align_layers

runner = CliRunner()
RNG = np.random.default_rng(1)
Z = RNG.normal(size=(300, 3))


def layer(width):
    return (Z @ RNG.normal(size=(3, width)) + RNG.normal(size=(300, width))).astype(np.float32)


def test_align_several_metrics_streamed_from_mapped_files(tmp_path):
    a = [layer(6), layer(9)]
    np.save(tmp_path / "a.npy", np.stack([a[0][:, :6], a[1][:, :6]], axis=1))  # (n, 2, 6)
    (tmp_path / "b").mkdir()
    b = [layer(4), layer(7), layer(5)]
    for i, x in enumerate(b):
        np.save(tmp_path / "b" / f"layer{i}.npy", x)
    out = tmp_path / "res.json"
    args = ["align", str(tmp_path / "a.npy"), str(tmp_path / "b"), "--metric", "mutual_knn,cka"]
    result = runner.invoke(app, [*args, "--k", "7", "--memory-budget", "3MB", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mutual_knn {'k': 7}: best" in result.output and "cka {}: best" in result.output
    payload = json.loads(out.read_text())
    la = [a[0][:, :6], a[1][:, :6]]
    knn = align_layers(la, b, "mutual_knn", k=7, device="cpu")
    cka = align_layers(la, b, "cka", device="cpu")
    np.testing.assert_array_equal(payload["metrics"]["mutual_knn"]["matrix"], knn.matrix)
    np.testing.assert_allclose(payload["metrics"]["cka"]["matrix"], cka.matrix, atol=1e-6)


def test_align_bad_budget_and_foreign_option_are_one_line(tmp_path):
    np.save(tmp_path / "a.npy", layer(5))
    base = ["align", str(tmp_path / "a.npy"), str(tmp_path / "a.npy")]
    result = runner.invoke(app, [*base, "--memory-budget", "lots"])
    assert result.exit_code == 2
    assert "memory_budget must be a positive number of bytes" in result.output
    result = runner.invoke(app, [*base, "--metric", "mutual_knn,cka", "--keep-variance", "0.9"])
    assert result.exit_code == 2 and "--keep-variance applies to none of" in result.output
