# airgap.pymigrate — the front door.
#   make dev    set-up only: system packages (as root), .venv with pinned tools, collection link
#   make demo   the main job: a demo migration on an embedded default (fleet of network namespaces)
#   make test   every test tier: unit, sanity, lint, integration over real SSH
#   make bench  benchmarks (numbers go to the README's performance section)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The machine's global pip config may add find-links or constraints; the project pins its own.
export PIP_CONFIG_FILE := /dev/null
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: dev system-deps demo test unit component sanity lint integration bench clean build changelog docs

dev: system-deps $(STAMP) .collections/ansible_collections/airgap/pymigrate

system-deps:
	@tests/tools/system-deps

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

.collections/ansible_collections/airgap/pymigrate:
	mkdir -p .collections/ansible_collections/airgap
	ln -sfn ../../.. $@

demo: dev
	$(BIN)/python tests/tools/demo.py

test: dev unit component sanity lint integration

unit: dev
	$(BIN)/python -m pytest tests/unit -q

component: dev
	$(BIN)/python -m pytest tests/component -q -m "not network"

sanity: dev
	tests/tools/sanity

lint: dev
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check plugins benchmarks
	$(BIN)/mypy -p ansible_collections.airgap.pymigrate.plugins.plugin_utils

integration: dev
	$(BIN)/python -m pytest tests/integration -q -m "not network"

bench: dev
	$(BIN)/python benchmarks/bundle_build.py
	$(BIN)/python benchmarks/fleet_migrate.py
	$(BIN)/python benchmarks/verify_overhead.py

docs: dev
	$(BIN)/python tests/tools/variables_doc.py

build: dev
	$(BIN)/ansible-galaxy collection build --force --output-path build/

changelog: dev
	$(BIN)/antsibull-changelog lint

clean:
	-tests/fleet/fleet down 2>/dev/null
	rm -rf build .pytest_cache
