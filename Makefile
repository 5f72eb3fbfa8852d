# Two commands set everything up on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo lint test ui benchmark clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Runs the replication end to end on the embedded demo: no services, no cloud account.
demo: install
	$(BIN)/pipeline-assets sync --all

# The gates: formatted by ruff, no ruff finding, no mypy error (settings in pyproject.toml).
lint: install
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy

# Needs the local PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306); the S3 server is started by the tests.
test: install lint
	scripts/ensure_chromium.sh
	scripts/ensure_sshd.sh
	$(BIN)/pytest

# The Dagster UI (and daemon) on the instance the CLI records runs in: the demo's, or $PIPELINE_ASSETS_CONFIG's own.
ui: install
	$(BIN)/pipeline-assets ui

benchmark: install
	$(BIN)/python benchmarks/pg_to_pg.py --rows 1000000

clean:
	rm -rf $(VENV) .pipeline_assets .pytest_cache
