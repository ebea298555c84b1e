# make run: set up and start the whole system on http://127.0.0.1:8000.  make test: the test suite.
# make lint: ruff and the import layers.
# Both need only Python 3.12 and make; everything else goes into .venv. make lock: recompile the locks.

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The first Python 3.12 that runs: a pyenv shim on PATH may exist and still refuse to run.
PYTHON312 = $(firstword $(foreach candidate,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12),\
	$(if $(shell $(candidate) -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && echo ok),$(candidate))))

# uv compiles the locks and syncs .venv to them. It lives in .venv, and a sync leaves it and pip there.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
# Trust the system's certificates, as pip and curl do: some networks re-sign TLS with their own CA.
export UV_SYSTEM_CERTS := 1

# What .venv was last synced to, so nothing reinstalls while the locks are unchanged. A sync installs
# exactly the locks' pins and removes whatever they no longer list.
RUNTIME_STAMP := $(VENV)/.synced-runtime
DEV_STAMP := $(VENV)/.synced-dev
# Once make test has added the dev set, make run keeps it (re-syncing both locks when one changes)
# rather than removing the test tools that the next make test would reinstall.
RUN_DEPS = $(if $(wildcard $(DEV_STAMP)),$(DEV_STAMP),$(RUNTIME_STAMP))

.PHONY: run test lint lock

run: $(RUN_DEPS) .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py seed_demo
	$(PY) manage.py serve --port $(PORT)

# Embedded defaults whatever the shell has: a developer's DATABASE_URL or REDIS_URL must not leak in.
test: $(DEV_STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

# ruff's lint and format rules and the import layers (pyproject.toml): CI fails on any of them.
lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# Compiled for CPython 3.12 on Linux (the image's) whoever runs it, keeping the pins already in the
# locks: `make lock LOCK_ARGS='--upgrade-package django'` moves one. Every pin has a wheel and hashes.
LOCK = $(UV) pip compile --quiet --no-config --python $(PY) --python-version 3.12 --python-platform linux \
	--only-binary :all: --generate-hashes --custom-compile-command 'make lock' $(LOCK_ARGS)

lock: $(UV_STAMP)
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt

$(RUNTIME_STAMP): requirements.txt $(UV_STAMP)
	$(UV) pip sync --python $(PY) --require-hashes requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt $(UV_STAMP)
	$(UV) pip sync --python $(PY) --require-hashes requirements.txt requirements-dev.txt
	rm -f $(RUNTIME_STAMP)
	touch $@

$(UV_STAMP): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	rm -f $(VENV)/.uv-*
	touch $@

$(PY):
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: install it (python3.12 on PATH or pyenv)" >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON312)"
	$(PYTHON312) -m venv $(VENV)

# Secrets made once and kept: TRADEBOT_ENCRYPTION_KEY decrypts the broker keys stored in the database.
.env: | $(PY)
	@$(PY) -c 'from secrets import token_urlsafe as t; print(f"# Written once by make run. Keep it: TRADEBOT_ENCRYPTION_KEY decrypts stored broker keys.\nSECRET_KEY={t(50)}\nTRADEBOT_ENCRYPTION_KEY={t(32)}\nTRADEBOT_METRICS_TOKEN={t(32)}\nGRAFANA_ADMIN_PASSWORD={t(16)}\nDEBUG=off")' > $@.tmp
	@mv $@.tmp $@
	@echo "Wrote .env with a new SECRET_KEY and TRADEBOT_ENCRYPTION_KEY"
