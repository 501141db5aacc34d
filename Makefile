# Ampere: `make run` serves it, `make test` tests it. See README.md.
SHELL := /bin/bash
# Byte-code caches make every process start seconds faster (some machines disable them).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export AMPERE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run venv test check lint typecheck contracts migrations-check bench-quick lock

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The installed environment follows the lock file; re-syncs when it changes.
$(VENV)/.synced: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(VENV)/.synced

run: venv
	$(BIN)/ampere up

test: venv
	$(BIN)/pytest -n 2 --dist loadgroup -q

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy src tests bench

contracts: venv
	$(BIN)/lint-imports

migrations-check: venv
	$(BIN)/ampere makemigrations --check --dry-run

check: lint typecheck contracts migrations-check test

bench-quick: venv
	for script in bench/*.py; do $(BIN)/python $$script --quick || exit 1; done

# Re-pin every dependency after changing pyproject.toml.
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 -o requirements.lock -q
