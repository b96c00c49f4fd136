"""``alignlab run STUDY``, ``status``, ``report`` and ``demo``: one pattern for every study.

Every ``alignlab run STUDY`` takes ``--preset`` (default ``quick``), ``--config``, ``--set`` and
the executor options; a study's own options (``--dataset``, ``--vision`` ...) only fill spec
fields. The paper preset is asked for by name, and its expected time is printed before it starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from alignlab.cli._common import console, err_console, out_path, user_errors

app = typer.Typer(help="Run a study and store its results (resumable).", no_args_is_help=True)

PRESET_OPTION = typer.Option(
    None, help="Shipped spec by name (default quick); an unknown name lists the study's presets."
)
CONFIG_OPTION = typer.Option(None, help="Spec file (.yaml or .toml) instead of a preset.")
SET_OPTION = typer.Option([], "--set", help="Override a spec field: --set epochs=5.")
EXECUTOR_OPTION = typer.Option("local", help="local (process pool) or dask.")
WORKERS_OPTION = typer.Option(2, min=1, help="Worker processes, one torch thread each.")
SCHEDULER_OPTION = typer.Option(None, help="Dask scheduler address, tcp://HOST:8786.")
GPU_OPTION = typer.Option(False, help="Place jobs on Dask workers with a GPU resource.")
QUIET_OPTION = typer.Option(False, help="One log line per job instead of a progress bar.")


def executor_config(executor: str, workers: int, scheduler: str | None, gpu: bool, quiet: bool):
    from alignlab.experiments import ExecutorConfig

    if executor not in ("local", "dask"):
        raise ValueError(f"--executor must be 'local' or 'dask', got {executor!r}")
    if scheduler and executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    return ExecutorConfig(kind=executor, workers=workers, scheduler=scheduler, gpu=gpu, quiet=quiet)


def run_named_study(
    study: str,
    run_dir: Path,
    preset: str | None,
    config: Path | None,
    overrides: list[str],
    fields: dict[str, Any],
    executor,
) -> None:
    """Resolve the spec, say what will run, run it, and print the study's summary."""
    from alignlab.experiments import get_study, resolve_spec, run_study
    from alignlab.experiments.spec import preset_expected_minutes

    with user_errors():
        entry = get_study(study)
        spec = resolve_spec(entry.spec_type, preset, config, overrides, fields)
        name = "config " + str(config) if config else f"preset {preset or 'quick'}"
        minutes = None if config else preset_expected_minutes(study, preset or "quick")
        when = "" if minutes is None else f", expected about {_duration(minutes)} on 2 cores"
        console.print(f"{study} study, {name}{when} -> {run_dir}", highlight=False)

        waiting = _preparing(spec)

        def notices(prepared) -> None:
            waiting.stop()
            for line in prepared.notices:
                console.print(f"  {line}", highlight=False)

        try:
            outcome = run_study(spec, run_dir.expanduser(), executor, on_prepared=notices)
        finally:
            waiting.stop()
    ran = ", ".join(f"{n} {p}" for p, n in outcome.jobs_run.items()) or "nothing"
    console.print(f"{run_dir}: ran {ran} job(s) now, in {outcome.seconds:.1f} s", highlight=False)
    for line in entry.summary(outcome.tables):
        console.print(line, highlight=False, markup=False)
    resolved = outcome.prepared.spec or spec  # the spec the run saved
    for line in _size_lines(study, outcome, resolved.model_dump(mode="json")):
        console.print(line, highlight=False, markup=False)
    console.print(f"report: alignlab report {run_dir}", highlight=False)


def _size_lines(study: str, outcome, spec: dict) -> list[str]:
    """The report's verdict on the run's size, in the terminal too (MultiBench: whether
    Table 1 is a smoke test)."""
    if study != "multibench" or "table1" not in outcome.tables:
        return []
    from alignlab.analysis.multibench_report import run_size

    tables = outcome.tables
    _, limits, caveats = run_size(tables["table1"], tables.get("models"), tables.get("alignments"),
                                  spec)  # fmt: skip
    if limits:
        return [f"smoke test, not evidence: {'; '.join(limits)}"]
    if caveats:
        return [f"large enough for Table 1, but uncertain: {'; '.join(caveats)}"]
    return ["large enough for Table 1's correlations (the report says why)"]


class _Preparing:
    """A spinner (a line off a terminal) while a study loads its inputs, until ``stop()``."""

    def __init__(self, text: str) -> None:
        self._status = None
        if console.is_terminal:
            self._status = console.status(text)
            self._status.start()
        else:
            console.print(text, highlight=False)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _preparing(spec) -> _Preparing:
    """Say what the study does before its first job: load (or build) its data."""
    dataset = getattr(spec, "dataset", None)
    if dataset == "avdigits":
        text = (
            "preparing: building the avdigits dataset (images and spoken digits; on first use "
            "this takes a while, then it is read from the cache)"
        )
    elif dataset:
        text = f"preparing: loading the {dataset} data"
    else:
        text = f"preparing the {spec.study} study's inputs"
    return _Preparing(text)


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.0f} h"


@app.command("synthetic")
def run_synthetic_cmd(
    run_dir: Path = typer.Argument(..., help="Run directory; re-running resumes it."),
    preset: str | None = PRESET_OPTION,
    config: Path | None = CONFIG_OPTION,
    set_: list[str] = SET_OPTION,
    executor: str = EXECUTOR_OPTION,
    workers: int = WORKERS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    gpu: bool = GPU_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Train, select and align the controlled synthetic study (resumable)."""
    with user_errors():
        ex = executor_config(executor, workers, scheduler, gpu, quiet)
    run_named_study("synthetic", run_dir, preset, config, set_, {}, ex)


@app.command("multibench")
def run_multibench_cmd(
    run_dir: Path = typer.Argument(..., help="Run directory; re-running resumes it."),
    dataset: str | None = typer.Option(
        None, help="mosi, mosei, urfunny, mustard, avmnist or avdigits (offline stand-in)."
    ),
    data: Path | None = typer.Option(
        None,
        help="Pickle or its folder (avmnist: folder; avdigits: cache folder); default "
        "$ALIGNLAB_MULTIBENCH_DIR.",
    ),
    size: str | None = typer.Option(None, help="avdigits: full (55,000 train) or ci (1,000)."),
    preset: str | None = PRESET_OPTION,
    config: Path | None = CONFIG_OPTION,
    set_: list[str] = SET_OPTION,
    executor: str = EXECUTOR_OPTION,
    workers: int = WORKERS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    gpu: bool = GPU_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Transformers per modality and depth; alignment vs performance for every ordered pair of
    modalities (the paper's Table 1; resumable)."""
    fields: dict[str, Any] = {}
    if dataset is not None:
        fields["dataset"] = dataset.lower()
    if data is not None:
        fields["data"] = str(data.expanduser().resolve())
    if size is not None:
        fields["size"] = size
    with user_errors():
        ex = executor_config(executor, workers, scheduler, gpu, quiet)
    run_named_study("multibench", run_dir, preset, config, set_, fields, ex)


def _model_names(values: list[str], option: str) -> list[str]:
    """Names from repeated options and/or comma-separated values, in order."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        raise ValueError(f"{option} needs at least one model (a Hub id or a local folder)")
    return names


@app.command("vl")
def run_vl_cmd(
    run_dir: Path = typer.Argument(..., help="Run directory; re-running resumes it."),
    vision: list[str] = typer.Option(
        [], "--vision", help="Vision model (Hub id in the local cache, or folder); repeat or A,B."
    ),
    language: list[str] = typer.Option(
        [], "--language", help="Causal language model, likewise; repeat or A,B."
    ),
    data: Path | None = typer.Option(
        None, help="Image-caption data: save_to_disk folder, Parquet, or images + captions file."
    ),
    levels: str | None = typer.Option(
        None, help="Perturbation levels in %: 0,10,20 or 0,10,...,50."
    ),
    device: str | None = typer.Option(None, help="cpu, cuda or auto (default auto)."),
    cache_dir: Path | None = typer.Option(None, help="Feature cache (default $ALIGNLAB_CACHE)."),
    preset: str | None = PRESET_OPTION,
    config: Path | None = CONFIG_OPTION,
    set_: list[str] = SET_OPTION,
    executor: str = EXECUTOR_OPTION,
    workers: int = typer.Option(1, min=1, help="Worker processes for the align jobs."),
    scheduler: str | None = SCHEDULER_OPTION,
    gpu: bool = GPU_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Align pretrained vision and language models on perturbed image-caption pairs (offline).

    Other settings (k, seed, dtype, batch_size, max_pairs, on_bad_image ...) are spec fields:
    ``--set k=20``."""
    from alignlab.studies.vl.spec import parse_levels

    fields: dict[str, Any] = {}
    with user_errors():
        if vision:
            fields["vision"] = _model_names(vision, "--vision")
        if language:
            fields["language"] = _model_names(language, "--language")
        if data is not None:
            fields["data"] = str(data.expanduser().resolve())
        if levels is not None:
            fields["levels"] = parse_levels(levels)
        if device is not None:
            fields["device"] = device
        if cache_dir is not None:
            fields["cache_dir"] = str(cache_dir.expanduser())
        ex = executor_config(executor, workers, scheduler, gpu, quiet)
    run_named_study("vl", run_dir, preset, config, set_, fields, ex)


def status(run_dir: Path = typer.Argument(..., help="Run directory.")) -> None:
    """Say what a run has done and what is left, phase by phase."""
    from alignlab.experiments import run_status

    with user_errors():
        st = run_status(run_dir)
    console.print(
        f"{run_dir}: {st.study} study, spec fingerprint {st.fingerprint}", highlight=False
    )
    for phase, (done, total) in st.phases.items():
        console.print(f"  {phase}: {done} / {'?' if total is None else total} jobs done")
    for problem in st.problems:
        console.print(f"  [red]unreadable table:[/] {problem}", highlight=False)
    if st.running:
        console.print("running: another process is working in this directory now")
    state = "finished" if st.finished else "not finished"
    console.print(f"{state}; next: {st.next_step}", highlight=False)


def demo(
    run_dir: Path = typer.Argument(Path("runs/quick"), help="Run directory for the quick study."),
    workers: int = typer.Option(2, min=1, help="Worker processes, one torch thread each."),
    quiet: bool = typer.Option(False, help="Log lines instead of a progress bar."),
) -> None:
    """The main job: the quick synthetic study, then its HTML report."""
    from alignlab.analysis.report import write_report

    with user_errors():
        ex = executor_config("local", workers, None, False, quiet)
    run_named_study("synthetic", run_dir, "quick", None, [], {}, ex)
    with user_errors():
        path = write_report(run_dir)
    console.print(f"report: {path.resolve()}", highlight=False, soft_wrap=True)


def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by `alignlab run`."),
    metric: str | None = typer.Option(
        None, help="Alignment metric to analyse (default: unbiased_cka, else the first present)."
    ),
    depth1: int | None = typer.Option(
        None, help="Modality-1 encoder depth to analyse (default: the smallest present)."
    ),
    method: str = typer.Option("spearman", help="Correlation drawn in figures: spearman|pearson."),
    out: Path | None = typer.Option(None, help="Report folder (default: RUN_DIR/report)."),
    open_: bool = typer.Option(False, "--open", help="Open the report in a web browser."),
) -> None:
    """Write RUN_DIR/report/index.html: summary, findings, every figure, spec and environment."""
    from alignlab.analysis.report import write_report

    if method not in ("spearman", "pearson"):
        err_console.print(f"[bold red]error:[/] --method must be spearman or pearson, not {method}")
        raise typer.Exit(2)
    with user_errors():
        index = write_report(run_dir.expanduser(), out_path(out), metric, depth1, method)
    console.print(str(index), highlight=False, soft_wrap=True)
    if open_:
        import webbrowser

        webbrowser.open(index.resolve().as_uri())
