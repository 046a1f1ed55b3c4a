# The project's two commands: `make report` and `make test` (see README.md).
# Everything is installed into .venv with uv (from PyPI); nothing else is needed
# but Python >= 3.11 and make.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
LOCK   := requirements/constraints.txt
# Report options, e.g. `make report PERIOD=1404-08 LANGUAGE=fa`.
DATA     ?= data/sample
PERIOD   ?=
LANGUAGE ?= en
# Test processes (pytest-xdist): one per core, at most 4; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto

.PHONY: report test install install-test lint typecheck data lock clean help
.DEFAULT_GOAL := help

help:
	@echo "make report   run the report on the bundled sample data (creates .venv on first use)"
	@echo "make test     run the whole test suite: lint, types, unit, CLI, notebooks, reports"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("salesnb needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml $(LOCK) | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c $(LOCK) -e .
	$(BIN)/python -m compileall -q salesnb > /dev/null
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(LOCK) | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c $(LOCK) -e '.[test]'
	$(BIN)/python -m compileall -q salesnb > /dev/null
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

report: install
	$(BIN)/salesnb report $(DATA) $(if $(PERIOD),--period $(PERIOD)) --language $(LANGUAGE) --out reports

# Lint: ruff, then the import-linter contract of the layers (pyproject.toml).
lint: install-test
	$(BIN)/ruff check salesnb tests benchmarks conftest.py
	$(BIN)/lint-imports

typecheck: install-test
	$(BIN)/mypy

# One pytest run: the unit, CLI, SQL, notebook, report and wheel tests under tests/,
# every docstring example of salesnb (doctests on the bundled sample), and every stored
# notebook executed with its defaults by nbval. Test files are spread over the cores, each
# file on one worker (a notebook's cells share one kernel).
test: lint typecheck
	$(BIN)/python -m pytest tests notebooks salesnb --doctest-modules --nbval-lax --nbval-current-env \
		-n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

# Regenerate the bundled sample (data/sample/ and data/sample.sqlite).
data: install
	$(BIN)/salesnb sample data/sample --n 2000 --seed 1 --field-history --sqlite data/sample.sqlite

# Re-pin every dependency (run after changing pyproject.toml).
lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 --extra test -o $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
