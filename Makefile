# Greenroom — the two commands: `make demo` (set up and start the portal) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
PYTEST_ARGS ?=

.PHONY: demo test lint setup setup-dev bench screenshots clean help

help:
	@echo "make demo   - set up a virtualenv and start the portal on http://127.0.0.1:7007 (SQLite, demo org)"
	@echo "make test   - set up and run lint, type checks and the whole test suite"
	@echo "make bench  - run the catalog benchmark (see bench/README.md)"
	@echo "make screenshots - capture every page (light/dark, desktop/narrow) into screenshots/"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel

$(RUNTIME_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP)

setup: $(RUNTIME_STAMP)
setup-dev: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/greenroom serve --config app-config.yaml

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench examples tools
	$(VENV)/bin/ruff format --check src tests bench examples tools
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

screenshots: $(DEV_STAMP)
	$(PY) tools/screenshots.py $(SCREENSHOT_ARGS)

bench: $(DEV_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache build
