# The two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Test processes: the browser tests on one, the rest shared out (CI has 2 cores).
JOBS   ?= 2

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

run: $(VENV)/.run-deps
	$(BIN)/fieldapp i18n compile
	$(BIN)/fieldapp db upgrade
	$(BIN)/fieldapp serve --host 127.0.0.1 --port 5000

test: $(VENV)/.test-deps
	sh scripts/install-system-deps.sh
	$(BIN)/ruff check fieldapp tests bench
	$(BIN)/ruff format --check fieldapp tests bench
	$(BIN)/fieldapp i18n compile
	sh scripts/with-postgres.sh $(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check fieldapp tests bench
	$(BIN)/ruff format --check fieldapp tests bench

bench: $(VENV)/.test-deps
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/field_app.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/hostile_input.py
	$(BIN)/python bench/attachments.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
