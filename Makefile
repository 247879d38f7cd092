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

.PHONY: dev system-deps preflight demo test unit component sanity lint integration compat bench clean build ee changelog docs

# The real uv wheel (installer kind uv) for the component tests, downloaded once: the test hosts have no index.
UV_VERSION := 0.13.9
UV_WHEEL_STAMP := build/wheelhouse/.uv-$(UV_VERSION)

# The inside indexes the mirror tests feed (requirements-servers.txt says why a venv of their own).
SERVERS_STAMP := .venv-servers/.installed

dev: system-deps $(STAMP) .collections/ansible_collections/airgap/pymigrate $(UV_WHEEL_STAMP) $(SERVERS_STAMP)

system-deps:
	@tests/tools/system-deps

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

$(SERVERS_STAMP): requirements-servers.txt
	$(PYTHON) -m venv .venv-servers
	.venv-servers/bin/python -m pip install -q -r requirements-servers.txt
	.venv-servers/bin/python -m pip uninstall -q -y passlib
	.venv-servers/bin/python -m pip install -q --force-reinstall --no-deps "$$(grep '^libpass==' requirements-servers.txt)"
	touch $@

$(UV_WHEEL_STAMP): | $(STAMP)
	mkdir -p build/wheelhouse
	$(BIN)/python -m pip download -q --no-deps --only-binary :all: --dest build/wheelhouse uv==$(UV_VERSION)
	touch $@

.collections/ansible_collections/airgap/pymigrate:
	mkdir -p .collections/ansible_collections/airgap
	ln -sfn ../../.. $@

demo: dev
	$(BIN)/python tests/tools/demo.py

test: dev preflight unit component sanity lint integration compat

# Fails at once naming what is missing (root, namespaces, Debian packages, Pythons, the uv wheel).
preflight: dev
	@$(BIN)/python tests/tools/preflight.py

unit: dev
	$(BIN)/python -m pytest tests/unit -q

component: dev
	$(BIN)/python -m pytest tests/component -q -m "not network"

sanity: dev
	tests/tools/sanity

lint: dev
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check plugins benchmarks tests
	$(BIN)/mypy -p ansible_collections.airgap.pymigrate.plugins.plugin_utils

integration: dev preflight
	$(BIN)/python -m pytest tests/integration -q -m "not network"

# The oldest ansible-core the collection supports (meta/runtime.yml), the newest (it needs Python 3.12, which pyenv
# keeps here) and the newest libraries the execution environment's ranges allow (meta/ee-requirements.txt): the
# unit tier on each, one fleet migration on the oldest and the newest core.
OLDEST_CORE := ansible-core>=2.16,<2.17
NEWEST_CORE_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
compat: dev
	@for venv in .venv-oldest-core .venv-ee-newest; do [ -x $$venv/bin/python ] || $(PYTHON) -m venv $$venv; done
	@[ -n "$(NEWEST_CORE_PYTHON)" ] || { echo "make compat: the newest ansible-core needs Python 3.12 (pyenv install 3.12)" >&2; exit 1; }
	[ -x .venv-newest-core/bin/python ] || $(NEWEST_CORE_PYTHON) -m venv .venv-newest-core
	.venv-newest-core/bin/python -m pip install -q --upgrade ansible-core -r meta/ee-requirements.txt pytest pyyaml
	.venv-newest-core/bin/ansible --version | head -1
	.venv-newest-core/bin/python -m pytest tests/unit -q -p no:cacheprovider
	.venv-oldest-core/bin/python -m pip install -q "$(OLDEST_CORE)" -r meta/ee-requirements.txt pytest pyyaml
	.venv-ee-newest/bin/python -m pip install -q --upgrade "$$(grep '^ansible-core==' requirements-dev.txt)" \
		-r meta/ee-requirements.txt pytest pyyaml
	.venv-oldest-core/bin/ansible --version | head -1
	.venv-oldest-core/bin/python -m pytest tests/unit -q -p no:cacheprovider
	.venv-ee-newest/bin/python -m pytest tests/unit -q -p no:cacheprovider
	for venv in .venv-oldest-core .venv-newest-core; do \
		PYMIGRATE_VENV=$(CURDIR)/$$venv $(BIN)/python -m pytest -q -p no:cacheprovider \
			"tests/integration/test_migrate.py::test_migrate_end_to_end" || exit 1; done

bench: dev
	$(BIN)/python benchmarks/bundle_build.py
	$(BIN)/python benchmarks/fleet_migrate.py
	$(BIN)/python benchmarks/verify_overhead.py

docs: dev
	$(BIN)/python tests/tools/variables_doc.py

build: dev
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# The execution environment's build context (execution-environment.yml): `podman build build/ee` then builds it.
ee: build
	cp "$$(ls -t build/airgap-pymigrate-*.tar.gz | head -1)" build/airgap-pymigrate.tar.gz
	$(BIN)/ansible-builder create -f execution-environment.yml -c build/ee

# Lint the fragments, then fold them into the current version's release (galaxy.yml) and CHANGELOG.md.
changelog: dev
	$(BIN)/antsibull-changelog lint
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/antsibull-changelog release --update-existing

clean:
	-tests/fleet/fleet down 2>/dev/null
	rm -rf build .pytest_cache
