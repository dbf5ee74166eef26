# The two commands of the quick start (README.md):
#   make plan   set up, then print the offline plan of the example stack
#   make test   set up, then run every check: ruff, pyright, pytest (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= vsphere-example
FORMAT ?= table
STAMP := $(VENV)/.installed

.PHONY: plan test lint typecheck pytest bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

plan: $(STAMP)
	$(PY) -m components.cli plan --stack $(STACK) --format $(FORMAT)

# lint also checks the workflows against GitHub's workflow schema (actionlint cannot be installed here: its
# PyPI package downloads the binary from GitHub at build time); tests/reuse/test_workflows.py checks the rest.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

typecheck: $(STAMP)
	$(VENV)/bin/pyright

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
