# The README's commands. `make run` and `make test` are all a newcomer needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
PYTEST_WORKERS ?= 2
# Extra arguments for pytest or bench/run.py: make test ARGS="tests/unit -x"
ARGS ?=
# Tests run with DEBUG off, where settings refuse the development key.
TEST_SECRET_KEY := test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz

.PHONY: help run test lint format bench migrate install

help:
	@echo "make run      start the demo (web + worker) on http://127.0.0.1:$(PORT)/"
	@echo "make test     run the whole test suite (DATABASE_URL=postgres://... for PostgreSQL)"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make format   ruff format and ruff check --fix"
	@echo "make migrate  apply database migrations"
	@echo "make backup   dump the PostgreSQL database (BACKUP_FILE=..., BACKUP_DIRECT=1)"
	@echo "make restore  restore a dump: make restore BACKUP_FILE=backups/....dump"
	@echo "make bench    run the benchmarks (bench/run.py)"
	@echo "make load     the load run: simulated reps against gunicorn (bench/load/README.md)"

$(PY):
	@$(PYTHON3) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "followup needs Python 3.11 or newer; $(PYTHON3) is $$($(PYTHON3) --version)." \
		     "Run: make PYTHON3=python3.12 ..." >&2; exit 1; }
	$(PYTHON3) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes (new or re-pinned dependencies).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	@PORT=$(PORT) scripts/run_demo.sh

test: $(STAMP)
	SECRET_KEY="$${SECRET_KEY:-$(TEST_SECRET_KEY)}" $(PY) -m pytest -n $(PYTEST_WORKERS) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(STAMP)
	DEBUG="$${DEBUG:-1}" $(PY) manage.py migrate

# Benchmarks on PostgreSQL (DATABASE_URL=postgres://...; see bench/README.md).
# SCALE is tiny, small (CI-sized, the default), medium or full (1M leads, 10M touches).
SCALE ?= small
.PHONY: bench-data

bench: $(STAMP)
	SECRET_KEY="$${SECRET_KEY:-$(TEST_SECRET_KEY)}" $(PY) bench/run.py --scale $(SCALE) $(ARGS)

bench-data: $(STAMP)
	SECRET_KEY="$${SECRET_KEY:-$(TEST_SECRET_KEY)}" $(PY) bench/generate.py --scale $(SCALE)

# The load run on loopback (bench/load/README.md): simulated reps against gunicorn and the
# tick on PostgreSQL (--database-url, LOAD_DATABASE_URL or DATABASE_URL names the server).
# Full form: make load ARGS="--reps 200 --seconds 300"
.PHONY: load
load: $(STAMP)
	$(PY) bench/load/run_load.py $(ARGS)

# Backups of the PostgreSQL database (README, Operations): through docker compose's `db`
# service, or straight against DATABASE_URL with BACKUP_DIRECT=1.
BACKUP_FILE ?=
.PHONY: backup restore
backup:
	@scripts/backup.sh $(BACKUP_FILE)

restore:
	@scripts/restore.sh $(BACKUP_FILE)
