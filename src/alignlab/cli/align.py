"""``alignlab align``: every layer pair of two models' features."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli._common import console, out_path, user_errors, write_json_atomic


# -- alignment of two models' layers ----------------------------------------------------------
def _print_alignment_heatmap(result, max_cells: int = 10) -> None:
    """The score matrix as a coloured table (2 decimals), every m-th layer when there are many."""
    import numpy as np
    from rich import box
    from rich.table import Table

    def picks(count: int, keep: int) -> list[int]:
        """At most ``max_cells`` evenly spaced indices, always the first, last and ``keep``."""
        even = np.linspace(0, count - 1, min(count, max_cells - 1)).round().astype(int)
        return sorted({*even.tolist(), keep})

    m = result.matrix
    rows, cols = picks(m.shape[0], result.best_pair[0]), picks(m.shape[1], result.best_pair[1])
    finite = m[np.isfinite(m)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    shown = "" if (len(rows), len(cols)) == m.shape else ", every few layers shown"
    table = Table(
        title=f"rows: layers of A, columns: layers of B, * best{shown}",
        box=box.SIMPLE,
        padding=(0, 1),
    )
    table.add_column("A\\B", justify="right")
    for j in cols:
        table.add_column(result.labels_b[j], justify="right")
    for i in rows:
        cells = []
        for j in cols:
            v = float(m[i, j])
            shade = 0.0 if hi <= lo or not np.isfinite(v) else (v - lo) / (hi - lo)
            style = f"on rgb({int(30 + 150 * shade)},{int(30 + 60 * shade)},60)"
            mark = "*" if (i, j) == result.best_pair else ""
            text = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
            cells.append(f"[{style}]{text}{mark}[/]")
        table.add_row(result.labels_a[i], *cells)
    console.print(table)


def align(
    a: Path = typer.Argument(
        ...,
        help="Model A features: .npy/.npz/.safetensors, (n, d) or (n, layers, d), or a "
        "directory of per-layer .npy files (memory-mapped: files may exceed memory).",
    ),
    b: Path = typer.Argument(..., help="Model B features, the same n samples in the same order."),
    metric: str = typer.Option(
        "mutual_knn",
        help="cka, rbf_cka, unbiased_cka, mutual_knn, cknna, svcca; several separated by commas "
        "(e.g. mutual_knn,cka) share one Gram matrix per layer.",
    ),
    k: int | None = typer.Option(None, help="Neighbours for mutual_knn and cknna (default 10)."),
    kernel: str | None = typer.Option(None, help="cka / unbiased_cka kernel: linear or rbf."),
    sigma_multiple: float | None = typer.Option(None, help="RBF bandwidth / median distance."),
    keep_variance: float | None = typer.Option(None, help="SVCCA variance kept (default 0.99)."),
    normalize: bool = typer.Option(False, "--normalize", help="L2-normalise every sample."),
    clamp_q: float | None = typer.Option(None, help="Clip |x| at this quantile (e.g. 0.95)."),
    clamp_scope: str = typer.Option("per_layer", help="Clamp scope: per_layer or per_model."),
    concat: bool = typer.Option(False, "--concat", help="Add all layers concatenated as a layer."),
    null_permutations: int = typer.Option(0, help="Shuffled pairings to calibrate against."),
    null_mode: str = typer.Option("subtract", help="Calibration: subtract or zscore."),
    seed: int = typer.Option(0, help="Seed of the shuffled pairings."),
    float64: bool = typer.Option(False, "--float64", help="Compute in float64 (default float32)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    memory_budget: str | None = typer.Option(
        None,
        help="Memory the engine may use besides the features, e.g. 2GB (default: half of the "
        "free memory); beyond it CKA, unbiased CKA, mutual kNN and CKNNA stream over samples.",
    ),
    out: Path | None = typer.Option(None, help="Write the full score matrix here as JSON."),
) -> None:
    """Score every layer pair of two models' features; print the best pair and a heatmap."""
    with user_errors():
        import torch

        from alignlab.features_io import load_layers
        from alignlab.metrics import align_layers_multi, get_metric

        out = out_path(out)
        if out is not None and not out.parent.is_dir():
            raise ValueError(f"--out: directory {out.parent} does not exist; create it first.")
        names = [m.strip() for m in metric.split(",") if m.strip()]
        given = {"k": k, "kernel": kernel, "sigma_multiple": sigma_multiple}
        given["keep_variance"] = keep_variance
        specs = {}
        for name in names:
            info = get_metric(name)
            params = {p: v for p, v in given.items() if v is not None and p in info.params}
            if "k" in info.params and k is None:
                params["k"] = 10
            specs[name] = params
        unused = sorted(p for p, v in given.items() if v is not None and not any(
            p in get_metric(m).params for m in specs))  # fmt: skip
        if len(specs) == 1 and unused:  # one metric: its own error for a foreign option
            specs[names[0]].update({p: given[p] for p in unused})
        elif unused:
            raise ValueError(
                f"--{unused[0].replace('_', '-')} applies to none of the metrics "
                f"{', '.join(specs)}."
            )
        results = align_layers_multi(
            load_layers(a, mmap=True),
            load_layers(b, mmap=True),
            specs,
            normalize=normalize,
            clamp_q=clamp_q,
            clamp_scope=clamp_scope,
            include_concat=concat,
            null_permutations=null_permutations,
            null_mode=null_mode,
            seed=seed,
            dtype=torch.float64 if float64 else torch.float32,
            device=device,
            memory_budget=memory_budget,
        )
        for name, result in results.items():
            i, j = result.best_pair
            shape = f"{len(result.labels_a)} x {len(result.labels_b)} layer pairs"
            console.print(
                f"{name} {result.params}: best {result.best:.4f} at layer {result.labels_a[i]} "
                f"of A and layer {result.labels_b[j]} of B ({shape}, n = {result.n_samples})",
                markup=False,
                highlight=False,
            )
            _print_alignment_heatmap(result)
        if out is not None:
            if len(results) == 1:
                payload = {"a": str(a), "b": str(b), **next(iter(results.values())).to_dict()}
            else:
                payload = {"a": str(a), "b": str(b)}
                payload["metrics"] = {m: r.to_dict() for m, r in results.items()}
            write_json_atomic(out, payload)
            console.print(f"wrote {out}")
