# Two entry points for a fresh clone: `make repro` (the default pipeline) and `make test`.
# Each creates .venv and installs exactly what it needs first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
export TOKENIZERS_PARALLELISM ?= false

.PHONY: repro test lint

$(BIN)/python:
	python3 -m venv $(VENV)

$(VENV)/.run-deps: $(BIN)/python requirements.txt requirements-bundled.txt constraints.txt pyproject.toml
	$(PIP) -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-bundled.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps requirements-test.txt
	$(PIP) -r requirements-test.txt
	touch $@

repro: $(VENV)/.run-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

# pytest exits 5 when it collected no tests: a broken suite, so say so plainly.
test: $(VENV)/.test-deps
	HF_HUB_OFFLINE=1 PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest tests -v --durations=15; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (check tests/)" >&2; fi; exit $$status

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src stages tests benchmarks
