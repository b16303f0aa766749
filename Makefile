# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
export FLASK_APP := portal
# Every absolute link (mail, feeds, pings, API) is built from it; the server refuses to start without it.
export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test install install-test serve init lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

init: install
	$(BIN)/flask init-db
	$(BIN)/flask seed-demo --if-empty

# The web server and the background worker together (Procfile, run by honcho); Ctrl-C stops both.
run: init
	HOST=$(HOST) PORT=$(PORT) VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/honcho start -f Procfile -p $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check portal tests bench wsgi.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
