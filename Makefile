# jobterm's everyday commands. Each target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo sandbox test unit lint typecheck fmt bench completions check-completions clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: start a sandbox GitLab, sign in and attach to a running job (leave with ~.)
demo: $(STAMP)
	$(BIN)/jobterm demo

## sandbox: serve a sandbox GitLab on 127.0.0.1 until Ctrl-C
sandbox: $(STAMP)
	$(BIN)/jobterm sandbox

## test: lint, type-check and the whole test suite
test: lint typecheck check-completions unit

unit: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check cli tests bench
	$(BIN)/ruff format --check cli tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format cli tests bench
	$(BIN)/ruff check --fix cli tests bench

## bench: measure latency, throughput, start-up and memory; prints a table, writes bench/results.json
bench: $(STAMP)
	$(BIN)/python bench/run.py

## completions: regenerate completions/ from the CLI
completions: $(STAMP)
	$(BIN)/python -m jobterm.completion.gen completions

check-completions: $(STAMP)
	$(BIN)/python -m jobterm.completion.gen --check completions

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
