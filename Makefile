# make run: set up and start the whole system on http://127.0.0.1:8000.  make test: the test suite.
# Both need only Python 3.12 and make; everything else goes into .venv.

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PORT ?= 8000

# The first Python 3.12 that runs: a pyenv shim on PATH may exist and still refuse to run.
PYTHON312 = $(firstword $(foreach candidate,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12),\
	$(if $(shell $(candidate) -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && echo ok),$(candidate))))

.PHONY: run test

run: $(STAMP) .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py seed_demo
	$(PY) manage.py serve --port $(PORT)

# Embedded defaults whatever the shell has: a developer's DATABASE_URL or REDIS_URL must not leak in.
test: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

# Reinstall only when requirements.txt changes.
$(STAMP): requirements.txt
	@test -x $(PY) || { \
		test -n "$(PYTHON312)" || { echo "Python 3.12 not found: install it (python3.12 on PATH or pyenv)" >&2; exit 1; }; \
		echo "Creating $(VENV) with $(PYTHON312)"; $(PYTHON312) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Secrets made once and kept: TRADEBOT_ENCRYPTION_KEY decrypts the broker keys stored in the database.
.env: | $(STAMP)
	@$(PY) -c 'from secrets import token_urlsafe as t; print(f"# Written once by make run. Keep it: TRADEBOT_ENCRYPTION_KEY decrypts stored broker keys.\nSECRET_KEY={t(50)}\nTRADEBOT_ENCRYPTION_KEY={t(32)}\nDEBUG=off")' > $@.tmp
	@mv $@.tmp $@
	@echo "Wrote .env with a new SECRET_KEY and TRADEBOT_ENCRYPTION_KEY"
