# AI Mass — the two set-up commands: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install messages static lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Compiled translations (.mo) are build output: made from locale/*/LC_MESSAGES/django.po.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(BIN)/python manage.py compilemessages -v 0 --ignore '.venv' --ignore 'node_modules'; \
	else \
		$(BIN)/pybabel compile -q -d locale -D django; \
	fi

static: install
	$(BIN)/python manage.py collectstatic --noinput -v 0

run: install messages
	$(BIN)/python manage.py migrate --noinput -v 1
	$(BIN)/python manage.py seed_demo > var/seed_demo.log && echo "Demo data ready (var/seed_demo.log)."
	PORT=$(PORT) scripts/run.sh

test: install messages
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var
