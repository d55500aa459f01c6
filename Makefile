# The two commands of the README:
#   make demo   runs a real flow on a real worker against the embedded PostgreSQL
#   make test   runs the test suite (installs everything it needs into .venv)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv bench matrix

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,web]'

demo: venv
	$(BIN)/python -m examples.demo

test: venv
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -rs $(PYTEST_ARGS)  # -rs: each skipped test and why (Chromium, pg_cron)

matrix: venv  # slices of the suite on PostgreSQL 14-17, Python 3.10/3.12/3.13 and through PgBouncer
	bash scripts/test_matrix.sh

bench: venv
	$(BIN)/pip install -q -e '.[dev,web,bench]'
	$(BIN)/python -m benchmarks all --quick
