# Every target sets itself up on a fresh machine: a virtualenv in .venv with the pinned
# requirements, re-installed only when a requirements file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo classify-examples test lint bench clean

demo: $(INSTALLED)
	@$(BIN)/python -m demo

classify-examples: $(INSTALLED)
	@$(BIN)/python -m remediators classify --format text examples/broken-managed-rg/*.json

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_pipeline.py

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
