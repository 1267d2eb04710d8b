# calico-fleet: one entry point. Every target bootstraps first, so each one
# works on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
LAB := $(BIN)/python -m lab
NODES ?= 3
# Tests use their own lab slot, so `make test` never touches a demo lab.
TEST_LAB_SLOT ?= 1

.PHONY: bootstrap test lint lint-only unit integration sanity molecule demo lab-up lab-down lab-status bench clean

bootstrap:
	@bash scripts/bootstrap.sh

# Lint, unit, sanity, integration and Molecule in lanes side by side
# (scripts/test.sh; each lab lane has its own lab slot).
test: bootstrap
	TEST_LAB_SLOT=$(TEST_LAB_SLOT) bash scripts/test.sh

lint: bootstrap lint-only

lint-only:
	ruff check .
	yamllint -s .
	ansible-lint -q
	mypy

sanity: bootstrap
	bash scripts/sanity.sh

unit: bootstrap
	pytest -q tests/unit

integration: bootstrap
	LAB_SLOT=$(TEST_LAB_SLOT) pytest -q tests/integration

molecule: bootstrap
	LAB_SLOT=$(TEST_LAB_SLOT) bash scripts/molecule.sh

demo: bootstrap
	bash scripts/demo.sh

lab-up: bootstrap
	$(LAB) up --nodes $(NODES)

lab-down: bootstrap
	$(LAB) down

lab-status: bootstrap
	$(LAB) status

bench: bootstrap
	bash bench/run.sh
