# The two commands of the README: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# Development defaults; production sets its own environment (see README, "Settings").
DEV_ENV := DEBUG=$${DEBUG:-true}

.PHONY: run test install lint typecheck migrate demo bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) .env

.env:
	cp .env.example .env

migrate: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput

# The demo's past signings, renewals and invoices would print dozens of emails: drop them.
demo: migrate
	EMAIL_URL=dummymail:// $(DEV_ENV) $(PY) manage.py seed_demo

# Serves the app with a Celery worker and beat (embedded file-system broker, no Redis needed).
# Emails go to files in var/mail (one per message), so the terminal keeps the sign-in lines.
# Ctrl-C stops the server and the worker.
RUN_ENV := $(DEV_ENV) EMAIL_URL=$${EMAIL_URL:-filemail:///$(CURDIR)/var/mail}
run: demo
	$(DEV_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "Starting the Celery worker with beat, then the web server on http://$(HOST):$(PORT)/"
	@echo "Emails are written to var/mail/ (EMAIL_URL=consolemail:// prints them here instead)."
	@$(RUN_ENV) $(BIN)/celery -A allora worker --beat --scheduler django --concurrency 1 \
		--loglevel warning & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The rules and workflow modules listed in mypy.ini, with django-stubs.
typecheck: install
	$(BIN)/mypy

# The suite runs on every core (pytest-xdist); PYTEST_ARGS adds options (CI: --create-db).
test: lint typecheck
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

# The key pages and jobs at 10,000 agreements, each against its floor (bench/README.md). Builds
# the PostgreSQL database BENCH_DATABASE_URL (made if missing; BENCH_ARGS=--reuse keeps its data).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/allora_bench_pages
BENCH_ARGS ?=
bench: install
	nice -n 10 $(PY) bench/bench_pages.py --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
