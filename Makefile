# Every target sets up what it needs: a .venv with the package and its dev extras,
# and node_modules with the pinned CDK CLI and Node.js 22 (first on PATH, so jsii
# runs on a supported Node and prints no end-of-life banner).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup synth test lint typecheck demo bench dist clean

CHECKOV_VENV := .venv-checkov

setup: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "installing constructs_batch[dev] into $(VENV) (log: $(VENV)/pip.log)"
	@$(VPY) -m pip install --upgrade pip > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@$(VPY) -m pip install -e '.[dev]' >> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	touch $@

# checkov pins its own boto3: it gets a venv of its own (used by tests/stacks).
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "installing checkov into $(CHECKOV_VENV) (log: $(CHECKOV_VENV)/pip.log)"
	@$(CHECKOV_VENV)/bin/python -m pip install -r requirements-checkov.txt > $(CHECKOV_VENV)/pip.log 2>&1 || { cat $(CHECKOV_VENV)/pip.log; exit 1; }
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "installing the CDK CLI and Node 22 into node_modules"
	@npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v22\.' || { echo "node_modules/.bin/node is not Node 22" >&2; exit 1; }
	touch $@

# cfn-lint: W3005 (a DependsOn also implied by a GetAtt) comes from aws-cdk-lib's own
# constructs; every other warning and every error fails the build.
synth: setup
	rm -rf cdk.out
	cdk synth --quiet --ci
	cfn-lint --format parseable --ignore-checks W3005 -- cdk.out/*.template.json
	$(VPY) scripts/synth_summary.py cdk.out

lint: setup
	ruff format --check .
	ruff check .

typecheck: setup
	mypy
	cd lambda/submit_job && mypy --strict --explicit-package-bases *.py
	cd jobs/csv_loader && mypy --strict --explicit-package-bases *.py

# Two workers (the machines have 2 cores); each test module stays on one worker, so its
# module-scoped synths happen once. Snapshot updates: `pytest tests/stacks --snapshot-update`.
test: setup lint typecheck
	$(VPY) -m pytest -q -n 2 --dist loadfile

demo: setup
	$(VPY) -m scripts.demo

bench: setup
	$(VPY) bench/run.py

# The wheel users install (runtime code inside): dist/constructs_batch-<version>-py3-none-any.whl
dist: setup
	rm -rf dist build
	$(VPY) -m pip wheel --no-deps --no-build-isolation --wheel-dir dist .
	rm -rf build constructs_batch.egg-info
	@ls dist/*.whl

clean:
	rm -rf cdk.out dist .pytest_cache .mypy_cache .ruff_cache
