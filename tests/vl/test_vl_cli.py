"""`alignlab run vl` then `alignlab report`, offline, end to end; resuming; bad input."""

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from alignlab.cli import app

from .conftest import write_folder

runner = CliRunner()


class Result:
    """The exit code and the output with line wrapping undone."""

    def __init__(self, result):
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())


def run_vl(run_dir, vision, language, data, *extra):
    args = ["run", "vl", str(run_dir), "--data", str(data), "--quiet", "--device", "cpu"]
    args += [a for v in vision for a in ("--vision", str(v))]
    args += ["--language", ",".join(str(p) for p in language)]  # the comma form
    return Result(runner.invoke(app, args + list(extra)))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, vision_models, language_models, folder_data):
    run_dir = tmp_path_factory.mktemp("runs") / "vl"
    result = run_vl(run_dir, vision_models, language_models, folder_data, "--levels", "0,25,...,50")
    assert result.exit_code == 0, result.output
    return run_dir, result


def test_run_writes_the_tables(finished, vision_models, language_models):
    run_dir, result = finished
    align = pd.read_parquet(run_dir / "tables" / "alignments.parquet")
    lang = pd.read_parquet(run_dir / "tables" / "language.parquet")
    models = pd.read_parquet(run_dir / "tables" / "models.parquet")
    assert len(align) == 3 * len(vision_models) * len(language_models)
    assert sorted(align["level"].unique()) == [0, 25, 50]
    assert align["score"].between(0, 1).all() and (align["n"] == 20).all()
    matrix = align["matrix"].iloc[0]
    assert len(matrix) == 2 + 1  # two blocks + the concatenation (protocol default)
    assert {"concat", "0", "1"} >= set(align["layer_a"])
    assert len(lang) == 3 * len(language_models)
    assert (lang.groupby("language")["bpb_mean"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert set(models["kind"]) == {"vision", "language"} and (models["n_params"] > 0).all()
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert spec["study"] == "vl" and spec["levels"] == [0, 25, 50] and spec["k"] == 10
    assert "best mutual kNN over language models" in result.output
    assert align["key"].is_unique and (align["modality_a"] == "vision").all()


def test_rerun_resumes_without_work(finished, vision_models, language_models, folder_data):
    run_dir, _ = finished
    again = run_vl(run_dir, vision_models, language_models, folder_data, "--levels", "0,25,50")
    assert again.exit_code == 0, again.output
    assert "ran 0 extract, 0 align, 0 language job(s)" in again.output


def test_features_are_cached_across_runs(tmp_path, vision_models, language_models, folder_data):
    lms = language_models[:1]
    first = run_vl(tmp_path / "a", vision_models[:1], lms, folder_data, "--levels", "0,50")
    second = run_vl(
        tmp_path / "b", vision_models[:1], lms, folder_data, "--levels", "0,50", "--set", "k=5"
    )
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "ran 0 extract, 2 align, 2 language job(s)" in second.output  # same features


def test_report_has_the_vl_figures(finished):
    run_dir, _ = finished
    result = Result(runner.invoke(app, ["report", str(run_dir)]))
    assert result.exit_code == 0, result.output
    page = (run_dir / "report" / "index.html").read_text()
    for name in ("vl_alignment_vs_uniqueness", "vl_alignment_vs_performance"):
        assert f'id="fig-{name}"' in page
        assert (run_dir / "report" / "figures" / f"{name}.png").stat().st_size > 1000
    assert "Figure 5" in page and "Figure 8" in page and "bits-per-byte" in page
    assert 'id="summary"' in page and 'id="models"' in page and 'id="skipped"' not in page
    summary = pd.read_csv(run_dir / "report" / "tables" / "vl_summary.csv")
    assert list(summary["U (%)"]) == [0, 25, 50]
    bad = Result(runner.invoke(app, ["report", str(run_dir), "--depth1", "2"]))
    assert bad.exit_code == 2 and "apply to the synthetic study" in bad.output


def test_model_not_in_cache_fails_cleanly(tmp_path, language_models, folder_data):
    result = run_vl(tmp_path / "r", ["nobody/not-a-cached-model"], language_models, folder_data)
    assert result.exit_code == 2
    assert "not in the local Hugging Face cache" in result.output
    assert "huggingface-cli download nobody/not-a-cached-model" in result.output
    assert not (tmp_path / "r").exists()  # nothing written on failure


def test_count_mismatch_fails_cleanly(tmp_path, pairs, vision_models, language_models):
    images, captions = pairs
    data = write_folder(tmp_path / "d", images, captions[:-1], kind="txt")
    result = run_vl(tmp_path / "r", vision_models[:1], language_models[:1], data)
    assert result.exit_code == 2
    assert "20 image file(s) but captions.txt has 19 caption line(s)" in result.output


def test_bad_image_fails_or_is_skipped(tmp_path, pairs, vision_models, language_models):
    data = write_folder(tmp_path / "d", *pairs)
    (data / "img_007.png").write_bytes(b"garbage")
    models = (vision_models[:1], language_models[:1])
    failed = run_vl(tmp_path / "r1", *models, data, "--levels", "0")
    assert failed.exit_code == 2 and "img_007.png cannot be decoded" in failed.output
    skipped = run_vl(tmp_path / "r2", *models, data, "--levels", "0", "--set", "on_bad_image=skip")
    assert skipped.exit_code == 0, skipped.output
    assert "19 pairs" in skipped.output
    runner.invoke(app, ["report", str(tmp_path / "r2")])
    assert "img_007.png" in (tmp_path / "r2" / "report" / "index.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--levels", "0,120"], "percents in 0..100"),
        (["--levels", "0,a"], "integers separated by commas"),
        (["--set", "bpb=median"], "bpb"),
        (["--set", "k=30"], "k = 30 must be smaller than the number of pairs, 20"),
        (["--device", "gpu"], "device must be cpu, cuda, cuda:N or auto"),
    ],
)
def test_bad_settings_fail_cleanly(
    tmp_path, vision_models, language_models, folder_data, extra, message
):
    result = run_vl(tmp_path / "r", vision_models[:1], language_models[:1], folder_data, *extra)
    assert result.exit_code == 2 and message in result.output, result.output
