# The two commands of the README:  make run  (the gateway)  and  make test.
# Both build ./.venv on first use from pyproject.toml, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/helpdesk init
	$(BIN)/helpdesk serve

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/import_mailbox.py --json-out bench/results/import.json

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .import_linter_cache
