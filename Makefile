# kubesmith: `make setup` once, then `make up` / `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
PROVIDER ?=
INVENTORY ?= inventory/local
VAGRANT_INVENTORY ?= inventory/vagrant
SCENARIOS ?= node_prereqs offline_mirror default ha

export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: node-images setup host-packages up down up-local up-vagrant down-local down-vagrant down-cluster test vagrant-vm-test lint bundle bundle-ensure mirror unit molecule bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml scripts/host-packages.txt scripts/install-host-packages
	scripts/install-host-packages scripts/host-packages.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $@

host-packages:
	scripts/install-host-packages scripts/host-packages.txt

# make up / make down: PROVIDER=vagrant or PROVIDER=local; without it,
# scripts/detect-provider picks vagrant where Vagrant and a hypervisor exist.
up: setup
	@$(MAKE) --no-print-directory up-$(or $(PROVIDER),$(shell scripts/detect-provider))

down: setup
	@$(MAKE) --no-print-directory down-$(or $(PROVIDER),$(shell scripts/detect-provider))

up-local: bundle-ensure
	@echo "make up: local system-container nodes, inventory $(INVENTORY)"
	$(BIN)/kubesmith -i $(INVENTORY) nodes create
	$(BIN)/kubesmith -i $(INVENTORY) mirror serve
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/cluster.yml
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/demo.yml

up-vagrant:
	@echo "make up: Vagrant VMs, inventory $(VAGRANT_INVENTORY)"
	KUBESMITH_INVENTORY=$(VAGRANT_INVENTORY) vagrant up
	$(BIN)/kubesmith -i $(VAGRANT_INVENTORY) vagrant inventory
	$(BIN)/ansible-playbook -i $(VAGRANT_INVENTORY) playbooks/cluster.yml
	$(BIN)/ansible-playbook -i $(VAGRANT_INVENTORY) playbooks/demo.yml

up-% down-%:
	@echo "make: PROVIDER must be vagrant or local (got '$*')" >&2; exit 2

down-cluster: setup
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/reset.yml

down-local:
	$(BIN)/kubesmith -i $(INVENTORY) nodes delete

down-vagrant:
	KUBESMITH_INVENTORY=$(VAGRANT_INVENTORY) vagrant destroy --force
	rm -f $(VAGRANT_INVENTORY)/vagrant-ssh.yml

# Every stage, timed (scripts/test-stages): setup, lint, bundle, then the
# molecule scenarios with unit and vagrant-vm-test beside them.
test:
	scripts/test-stages

lint: setup
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check src tests molecule bench roles
	$(BIN)/ruff format --check src tests molecule bench roles

LINK_KUBECTL = ln -sf "$$($(BIN)/python -c 'from kubesmith.bundle.build import kubectl_path; print(kubectl_path())')" $(BIN)/kubectl

bundle: setup
	$(BIN)/kubesmith bundle build
	$(LINK_KUBECTL)

# What `make up` uses: an existing bundle, else fetch when dl.k8s.io answers a
# 3-second probe, else build; KUBESMITH_BUNDLE=fetch|build forces one.
bundle-ensure: setup
	$(BIN)/kubesmith bundle ensure
	$(LINK_KUBECTL)

mirror: bundle
	$(BIN)/kubesmith -i $(INVENTORY) mirror serve

unit: setup
	KUBESMITH_REQUIRE_BUNDLE=1 KUBESMITH_REQUIRE_VAGRANT=1 $(BIN)/pytest

# One real VM through vagrant-libvirt (about 4 minutes under software emulation).
vagrant-vm-test: setup
	scripts/install-host-packages scripts/vm-packages.txt
	scripts/start-libvirt
	KUBESMITH_VAGRANT_VM=1 $(BIN)/pytest -m vagrant_vm tests/provider_vagrant

molecule: setup
	scripts/run-scenarios $(SCENARIOS)

# The node images the scenarios boot (cached; make test builds them beside the bundle).
node-images: setup
	for s in $(SCENARIOS); do $(BIN)/kubesmith -i molecule/$$s/inventory nodes image || exit 1; done

bench: setup
	$(BIN)/python bench/nodes_create.py
	$(BIN)/python bench/bundle_build.py
	$(BIN)/python bench/bundle_fetch.py
	$(BIN)/python bench/mirror_push.py
	$(BIN)/python bench/cluster_up.py
	$(BIN)/python bench/map.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
