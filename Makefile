# The two commands: `make run` starts the whole pipeline locally, `make test` runs the suite.
# Both install what they need into .venv/ first (scripts/bootstrap.sh).
SHELL := /bin/bash
PORT ?= 8080
DATA_DIR ?= ./data
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQS := requirements-dev.txt $(wildcard functions/*/requirements.txt)

.PHONY: run test lint format images clean

$(STAMP): $(REQS) scripts/bootstrap.sh
	@scripts/bootstrap.sh $(VENV) requirements-dev.txt
	@touch $@

run: $(STAMP)
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) $(PY) -m ocr_local --port $(PORT) --data-dir $(DATA_DIR)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

images: $(STAMP)
	$(PY) scripts/make_test_images.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
