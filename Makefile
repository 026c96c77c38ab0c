# The two commands: `make run` starts the whole pipeline locally, `make test` runs the suite.
# Both install what they need into .venv/ first (scripts/bootstrap.sh): `make run` the
# runtime (requirements.txt), `make test` the development tools on top (requirements-dev.txt).
SHELL := /bin/bash
PORT ?= 8080
DATA_DIR ?= ./data
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime
STAMP := $(VENV)/.installed
RUNTIME_REQS := requirements.txt $(wildcard functions/*/requirements.txt)

.PHONY: run run-emulators test lint format images bench package routes checkov clean

$(RUNTIME_STAMP): $(RUNTIME_REQS) scripts/bootstrap.sh
	@scripts/bootstrap.sh $(VENV) requirements.txt
	@touch $@

# The development tools on top of the runtime (which this installs too).
$(STAMP): $(RUNTIME_REQS) requirements-dev.txt scripts/bootstrap.sh
	@scripts/bootstrap.sh $(VENV) requirements-dev.txt
	@touch $(RUNTIME_STAMP) $@

run: $(RUNTIME_STAMP)
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) $(PY) -m ocr_local --port $(PORT) --data-dir $(DATA_DIR)

# The cloud wiring on emulators: fake-gcs-server -> Pub/Sub emulator (gcloud) -> functions.
run-emulators: $(RUNTIME_STAMP)
	PORT=$(PORT) $(PY) -m ocr_local.emulators --port $(PORT)

# The functions' deploy archives and build/functions/manifest.json (what Terraform
# uploads), after checking that terraform/routes.json (the URL map) matches the route table.
package: $(STAMP)
	$(PY) scripts/terraform_routes.py --check
	$(PY) scripts/package_functions.py

# Rewrite terraform/routes.json from the route table (ocr_core/http/routes.py).
routes: $(STAMP)
	$(PY) scripts/terraform_routes.py

# checkov in a venv of its own; make test goes on without it (its test then skips).
CHECKOV_STAMP := .venv-checkov/.installed
$(CHECKOV_STAMP): requirements-checkov.txt scripts/bootstrap.sh
	@scripts/bootstrap.sh .venv-checkov requirements-checkov.txt && touch $@ \
		|| echo "checkov could not be installed; its test will skip" >&2

checkov: $(CHECKOV_STAMP)
	.venv-checkov/bin/checkov -d terraform --framework terraform --skip-download --compact

test: $(STAMP) $(CHECKOV_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m bench.accuracy

images: $(STAMP)
	$(PY) scripts/make_test_images.py

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache .ruff_cache build terraform/.build
