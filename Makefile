# danq-pipeline: the two commands a new user needs.
#   make demo   set everything up, then run the whole workflow on the embedded chr22 demo data
#   make test   set everything up, then run the whole test suite
# GPU users: override the torch requirement, e.g.  make demo TORCH_SPEC='torch>=2.3'
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	bash scripts/ensure_bedtools.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# the rules run `python -m danq_pipeline`: put the virtualenv first on PATH
demo: setup
	time PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check danq_pipeline tests bench
	$(BIN)/ruff format --check danq_pipeline tests bench
	$(BIN)/snakefmt --check --no-format-shell Snakefile rules/
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint --configfile .test/config.yaml

clean:
	rm -rf results logs benchmarks .snakemake
