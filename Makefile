# AI Mass — the two set-up commands: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install messages static viewer lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The study viewer (Cornerstone3D, built with Vite into static/viewer/; build output is not
# committed). Rebuilt when its sources or lock file change.
VIEWER := imaging/viewer
VIEWER_SOURCES := $(wildcard $(VIEWER)/src/*.js) $(VIEWER)/vite.config.js $(VIEWER)/package-lock.json

$(VIEWER)/node_modules/.installed: $(VIEWER)/package-lock.json
	cd $(VIEWER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/viewer/viewer.js: $(VIEWER)/node_modules/.installed $(VIEWER_SOURCES)
	cd $(VIEWER) && npx vite build --logLevel warn

viewer: static/viewer/viewer.js

# Compiled translations (.mo) are build output: made from locale/*/LC_MESSAGES/django.po.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(BIN)/python manage.py compilemessages -v 0 --ignore '.venv' --ignore 'node_modules'; \
	else \
		$(BIN)/pybabel compile -q -d locale -D django; \
	fi

static: install
	$(BIN)/python manage.py collectstatic --noinput -v 0

run: install messages viewer
	$(BIN)/python manage.py migrate --noinput -v 1
	$(BIN)/python manage.py seed_demo > var/seed_demo.log && echo "Demo data ready (var/seed_demo.log)."
	PORT=$(PORT) scripts/run.sh

test: install messages viewer
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var static/viewer $(VIEWER)/node_modules
