# Every target sets itself up on a fresh machine: a virtualenv in .venv with the pinned
# requirements and Azurite in node_modules, each re-installed only when its pins change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
C7N_VENV := bench/.venv-c7n
C7N_INSTALLED := $(C7N_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed

.PHONY: demo classify-examples test lint bench clean

demo: $(INSTALLED) $(NODE_INSTALLED)
	@$(BIN)/python -m demo

classify-examples: $(INSTALLED)
	@$(BIN)/python -m remediators classify --format text examples/broken-managed-rg/*.json

test: $(INSTALLED) $(NODE_INSTALLED) $(CHECKOV_INSTALLED)
	$(BIN)/python -m pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(INSTALLED) $(NODE_INSTALLED) $(C7N_INSTALLED)
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_function_app.py --c7n $(C7N_VENV)/bin/python
	$(BIN)/python bench/bench_settle.py
	$(BIN)/python bench/bench_ledger.py

# Cloud Custodian's Azure provider, the cold-start peer, in a virtualenv of its own.
$(C7N_INSTALLED):
	test -x $(C7N_VENV)/bin/python || $(PYTHON) -m venv $(C7N_VENV)
	$(C7N_VENV)/bin/python -m pip install --quiet --disable-pip-version-check c7n==0.9.53 c7n-azure==0.7.52
	touch $@

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov scans infra/ offline (tests/test_infra.py); its own virtualenv, every version pinned.
$(CHECKOV_INSTALLED): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# Azurite (the Azure Storage emulator) from npm, pinned by package-lock.json.
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) $(C7N_VENV) $(CHECKOV_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
