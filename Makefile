# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test compile lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-run

# Bytecode for the editable package: with PYTHONDONTWRITEBYTECODE set (as on our CI machines)
# every process - each flow run a worker starts - compiled reelflow from source (~0.4 s of CPU).
# Only changed files are recompiled.
compile: | $(BIN)/python
	$(BIN)/python -m compileall -q reelflow

demo: $(VENV)/.installed-run compile
	$(BIN)/reelflow demo -o out/demo.mp4

test: $(VENV)/.installed-dev compile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev compile
	$(BIN)/python bench/render.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
