# The two commands of the README:  make run  (the gateway)  and  make test.
# Both build ./.venv on first use from pyproject.toml, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean screenshots

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

# The README's pictures, on purpose: the browser tests write them to tests/.screenshots/
# (ignored) on every run; this target runs them and copies the PNGs to docs/screenshots/.
screenshots: $(STAMP)
	rm -rf tests/.screenshots
	HELPDESK_REQUIRE_BROWSER=1 $(BIN)/pytest -q tests/web/test_browser.py tests/web/test_pages.py
	cp tests/.screenshots/*.png docs/screenshots/

bench: $(STAMP)
	$(BIN)/python bench/intake_mix.py
	if [ -x /usr/sbin/smtp-sink ]; then $(BIN)/python bench/intake_mix.py --smarthost smtp-sink; fi
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/notify.py
	if [ -x /usr/sbin/smtp-sink ]; then $(BIN)/python bench/notify.py --smarthost smtp-sink; fi
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/import_mailbox.py --json-out bench/results/import.json

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .import_linter_cache tests/.screenshots
