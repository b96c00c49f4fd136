#!/bin/sh
# check-wheel.sh: what a pip user gets. Build the wheel from this checkout, install it into a
# fresh virtual environment (no system site-packages, not the repository's .venv, run from
# outside the checkout), import every module and run a tiny study and its report from it. So
# missing package data (presets/*.yaml), entry points or undeclared imports fail here.
# Called by `make test` after pytest; about 1-3 minutes, most of it installing torch.
set -eu

# The tiny study: one cell, one model per modality, one epoch. Field names are the synthetic
# spec's (src/alignlab/studies/synthetic/spec.py); keep this the only place that names them.
STUDY_ARGS="--preset quick --set uniqueness=[0] --set dphi=[1] --set depths1=[1] \
--set depths2=[1] --set seeds=[0] --set epochs1=1 --set epochs2=1 --set lrs=[0.01] \
--set wds=[0.0] --workers 1 --quiet"
TORCH="torch==2.13.0"  # the CPU build the Makefile installs
PY=${PY:-python3}

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/alignlab-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
start=$(date +%s)
step() { echo "check-wheel: $1 ($(( $(date +%s) - start )) s)"; }

step "building the wheel"
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; echo "check-wheel: the wheel did not build" >&2; exit 1; }
wheel=$(ls "$work"/dist/alignlab-*.whl)
"$PY" -m zipfile -l "$wheel" >"$work/contents.txt"
for f in alignlab/presets/synthetic_quick.yaml alignlab/train/population_step.c alignlab/cli/__init__.py; do
    grep -q "^$f " "$work/contents.txt" \
        || { echo "check-wheel: $f is missing from $(basename "$wheel")" >&2; exit 1; }
done

step "fresh environment"
"$PY" -m venv "$work/venv"  # --system-site-packages off: only what the wheel declares
bin="$work/venv/bin"
pip_install() {
    "$bin/python" -m pip install --quiet "$@" >"$work/pip.log" 2>&1 \
        || { cat "$work/pip.log"; echo "check-wheel: pip install $* failed" >&2; exit 1; }
}
pip_install "$TORCH"
step "installing $(basename "$wheel")"
pip_install "$wheel"

cd "$work"  # away from the checkout: nothing is imported from src/
step "importing every module"
"$bin/python" - <<'EOF'
import importlib
import pkgutil

import alignlab

failed = []
for module in pkgutil.walk_packages(alignlab.__path__, "alignlab."):
    if module.name.endswith(".__main__"):  # runs the CLI
        continue
    try:
        importlib.import_module(module.name)
    except Exception as exc:  # an undeclared dependency, or an optional one imported eagerly
        failed.append(f"{module.name}: {type(exc).__name__}: {exc}")
if failed:
    raise SystemExit("modules that do not import from the wheel:\n  " + "\n  ".join(failed))
EOF

step "tiny study from the wheel"
# shellcheck disable=SC2086
"$bin/alignlab" run synthetic "$work/run" $STUDY_ARGS
"$bin/alignlab" report "$work/run" >"$work/report.log" 2>&1 \
    || { cat "$work/report.log"; echo "check-wheel: alignlab report failed" >&2; exit 1; }
[ -s "$work/run/report/index.html" ] \
    || { cat "$work/report.log"; echo "check-wheel: the report wrote no page" >&2; exit 1; }
# the wheel carries the fused step's C source: where a compiler is, the run must have used it
if command -v "${CC:-cc}" >/dev/null 2>&1; then
    grep -q '"training_step": "fused C step"' "$work/run/environment.json" \
        || { grep training_step "$work/run/environment.json" >&2;
             echo "check-wheel: the study from the wheel did not use the fused step" >&2; exit 1; }
fi
step "passed"
