# The two commands of the README:
#   make demo   runs a real flow on a real worker against the embedded PostgreSQL
#   make test   runs the test suite (installs everything it needs into .venv)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv bench

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

bench: venv
	$(BIN)/pip install -q -e '.[dev,web,bench]'
	$(BIN)/python -m benchmarks all --quick
