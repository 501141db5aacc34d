# Ampere: `make run` serves it, `make test` tests it. See README.md.
SHELL := /bin/bash
# Byte-code caches make every process start seconds faster (some machines disable them).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export AMPERE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run venv test check lint typecheck contracts migrations-check messages messages-update messages-check gettext browser bench-quick lock

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The installed environment follows the lock file; re-syncs when it changes.
$(VENV)/.synced: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(VENV)/.synced

run: venv messages
	$(BIN)/ampere up

test: venv messages browser
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

# The gettext catalogues (src/ampere/locale/*/LC_MESSAGES/*.po) compiled to .mo (not in git).
messages: venv
	$(BIN)/ampere compile_catalogues --verbosity 0

# After marking new strings: add them to the catalogues (then translate them in all three).
messages-update: venv
	cd src/ampere && ../../$(BIN)/ampere makemessages -l vi -l en -l es --no-obsolete \
		--ignore 'static/*' --ignore 'migrations/*'

# Fails, naming file and line, on a string of the source missing from a catalogue, and on an
# untranslated or fuzzy entry.
messages-check: venv gettext
	$(BIN)/ampere check_messages

# makemessages needs GNU gettext (xgettext, msgmerge).
gettext: /usr/bin/xgettext
/usr/bin/xgettext:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; \
	else \
		echo "The catalogue check needs GNU gettext. Run: sudo apt-get install -y gettext" >&2; \
		exit 1; \
	fi

# The browser tests drive Debian's Chromium (never a downloaded browser).
CHROMIUM := /usr/bin/chromium
browser: $(CHROMIUM)
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation; \
	else \
		echo "The browser tests need Debian's Chromium at $(CHROMIUM). Run: sudo apt-get install -y chromium fonts-liberation" >&2; \
		exit 1; \
	fi

check: lint typecheck contracts migrations-check messages-check test

bench-quick: venv
	for script in bench/*.py; do $(BIN)/python $$script --quick || exit 1; done

# Re-pin every dependency after changing pyproject.toml.
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 -o requirements.lock -q
