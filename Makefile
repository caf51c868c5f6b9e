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

.PHONY: setup synth test lint typecheck demo bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(VPY) -m pip install --quiet -e '.[dev]' 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	node --version | grep -q '^v22\.' || { echo "node_modules/.bin/node is not Node 22" >&2; exit 1; }
	touch $@

synth: setup
	rm -rf cdk.out
	cdk synth --quiet --ci
	cfn-lint --format parseable -- cdk.out/*.template.json
	$(VPY) scripts/synth_summary.py cdk.out

lint: setup
	ruff format --check .
	ruff check .

typecheck: setup
	mypy
	cd lambda/submit_job && mypy --strict --explicit-package-bases *.py
	cd jobs/csv_loader && mypy --strict --explicit-package-bases *.py

test: setup lint typecheck
	$(VPY) -m pytest -q

demo: setup
	$(VPY) scripts/demo.py

bench: setup
	$(VPY) bench/run.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
