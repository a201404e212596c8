# Two commands do everything on a fresh machine (Python 3.11, Node and npm preinstalled):
#   make synth   - set up .venv and node_modules, synthesize every tier stack into cdk.out
#   make test    - same set-up, then ruff, mypy --strict, pytest, cfn-lint over cdk.out, docs
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
# Local tools first: the venv's python (so `cdk synth` runs app.py with our packages) and
# the pinned CDK CLI and Node 22 from node_modules.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export NO_MKDOCS_2_WARNING := 1
CDK := cdk --no-notices

PY_STAMP := $(VENV)/.installed
# aws-parallelcluster (offline cluster-config schema check) pins CDK v1: own venv.
PCLUSTER_VENV := .venv-pcluster
PCLUSTER_STAMP := $(PCLUSTER_VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup synth test lint typecheck unit cfn-lint docs pcluster-validate bench snapshot-update clean \
	test-config-agreement test-lowest-cdk

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored" || true; }
	$(VENV)/bin/python -m pip install --quiet -e '.[test,docs,train]' 2>&1 | { grep -v "is ignored" || true; }
	touch $@

$(PCLUSTER_STAMP): requirements/pcluster.txt
	test -x $(PCLUSTER_VENV)/bin/python || $(PYTHON) -m venv $(PCLUSTER_VENV)
	$(PCLUSTER_VENV)/bin/python -m pip install --quiet -r requirements/pcluster.txt 2>&1 | { grep -v "is ignored" || true; }
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	rm -rf cdk.out
	$(CDK) synth --quiet
	@ls cdk.out/*.template.json

lint: setup
	ruff check .
	ruff format --check .

typecheck: setup
	mypy

# The ParallelCluster venv and the commands some tests use come first, so those tests run.
unit: setup $(PCLUSTER_STAMP)
	scripts/ensure-test-tools.sh
	pytest -n auto

cfn-lint: synth
	cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

# Architecture pictures are drawn from cdk.out on every docs build, so they never drift.
docs: synth
	scripts/ensure-graphviz.sh
	cdk-llm-training diagram --cdk-out cdk.out --out docs/images/architecture
	mkdocs build --strict --quiet

# Every ParallelCluster config the tests emit, loaded by the official aws-parallelcluster schema.
pcluster-validate: $(PCLUSTER_STAMP)
	$(PCLUSTER_VENV)/bin/python scripts/validate_pcluster_configs.py

test: lint typecheck unit cfn-lint pcluster-validate docs

bench: setup
	python scripts/bench.py
	python scripts/measure_dataset_validator.py --lines 30 --line-mb 15
	python scripts/measure_labeling_converter.py --manifest-mb 500
	python scripts/measure_labeling_converter.py --line-mb 50 --task sft

# validate == synth on every accepted mutation, not only the sample `make test` synthesizes
# (about 3,000 syntheses: an hour or more).
test-config-agreement: setup
	CONFIG_AGREEMENT_FULL=1 pytest -q tests/unit/test_config_synth_agreement.py

# The constructs with the lowest aws-cdk-lib pyproject.toml allows, in a throwaway venv (the
# project's .venv keeps the pinned development version). Needs the package index.
CDK_LOWEST_VENV := .venv-cdk-lowest
CDK_LOWEST = $(shell sed -n 's/.*"aws-cdk-lib>=\([0-9.]*\),<3".*/\1/p' pyproject.toml)
test-lowest-cdk:
	test -x $(CDK_LOWEST_VENV)/bin/python || $(PYTHON) -m venv $(CDK_LOWEST_VENV)
	$(CDK_LOWEST_VENV)/bin/python -m pip install --quiet -e . "aws-cdk-lib==$(CDK_LOWEST)" 2>&1 | { grep -v "is ignored" || true; }
	$(CDK_LOWEST_VENV)/bin/python scripts/smoke_synth.py

snapshot-update: setup
	pytest tests/snapshots --snapshot-update

clean:
	rm -rf cdk.out site docs/images/architecture .mypy_cache .pytest_cache .ruff_cache .hypothesis \
		$(CDK_LOWEST_VENV)
