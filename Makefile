# Expert Group Portal — the two commands: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PORT   ?= 8000
HOST   ?= 127.0.0.1
PYTEST_ARGS ?=
export PORTAL_SITE_URL ?= http://$(HOST):$(PORT)

# The first Python 3.12+ found: on PATH, then under pyenv, then the usual places.
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV) \
	/usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done)

.PHONY: help run test lint format install demo migrate messages clean e2e

help:
	@echo "make run    start the portal (web, worker, beat) with demo data on http://$(HOST):$(PORT)/"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff check and format check"

$(PY):
	@test -n "$(PYTHON)" || { echo "No Python 3.12+ found. Install one (e.g. pyenv install 3.13) or set PYTHON=/path/to/python3.12"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e . --group dev
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

messages: install
	@if [ -d locale ]; then $(PY) manage.py compilemessages --ignore=.venv --ignore=var -v 0; fi

migrate: install
	$(PY) manage.py migrate --noinput -v 0

demo: migrate messages
	$(PY) manage.py demo_data

run: demo
	$(PY) manage.py collectstatic --noinput -v 0
	@PATH="$(abspath $(VENV))/bin:$$PATH" PORTAL_PORT=$(PORT) PORTAL_HOST=$(HOST) \
	  $(VENV)/bin/honcho -f Procfile start

test: install messages
	$(PY) -m pytest $(PYTEST_ARGS)

e2e: install messages
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/celery var/static
