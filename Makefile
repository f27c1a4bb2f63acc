# kubesmith: `make setup` once, then `make up` / `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
PROVIDER ?= local
INVENTORY ?= inventory/local
SCENARIOS ?= node_prereqs offline_mirror default

export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup host-packages up down test lint bundle mirror unit molecule bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml scripts/host-packages.txt scripts/install-host-packages
	scripts/install-host-packages scripts/host-packages.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $@

host-packages:
	scripts/install-host-packages scripts/host-packages.txt

up: setup bundle
	@echo "make up: provider '$(PROVIDER)', inventory $(INVENTORY)"
	$(BIN)/kubesmith -i $(INVENTORY) nodes create
	$(BIN)/kubesmith -i $(INVENTORY) mirror serve
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/cluster.yml
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/demo.yml
	@echo "cluster ready: KUBECONFIG=$(CURDIR)/artifacts/local/admin.conf $(BIN)/kubectl get nodes"

down-cluster: setup
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/reset.yml

down: setup
	$(BIN)/kubesmith -i $(INVENTORY) nodes delete

test: setup lint bundle unit molecule

lint: setup
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check src tests molecule bench roles
	$(BIN)/ruff format --check src tests molecule bench roles

bundle: setup
	$(BIN)/kubesmith bundle build
	ln -sf "$$($(BIN)/python -c 'from kubesmith.bundle.build import kubectl_path; print(kubectl_path())')" $(BIN)/kubectl

mirror: bundle
	$(BIN)/kubesmith -i $(INVENTORY) mirror serve

unit: setup
	KUBESMITH_REQUIRE_BUNDLE=1 $(BIN)/pytest

molecule: setup
	set -e; for s in $(SCENARIOS); do $(BIN)/molecule test -s $$s; done

bench: setup
	$(BIN)/python bench/nodes_create.py
	$(BIN)/python bench/bundle_build.py
	$(BIN)/python bench/cluster_up.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
