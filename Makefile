# The two commands a new user needs (see README):
#   make run    set everything up and start the app on SQLite at http://127.0.0.1:8000/
#   make test   set everything up and run every check and test
# Everything is installed into .venv by scripts/bootstrap.sh; nothing else is needed.

PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint venv venv-test clean

venv:
	@scripts/bootstrap.sh

venv-test:
	@scripts/bootstrap.sh test

run: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PY) manage.py ensure_admin
	@echo "Open http://$(HOST):$(PORT)/ and log in."
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

test: venv-test
	@scripts/test.sh

bench: venv-test
	@scripts/bench.sh

lint: venv-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

clean:
	rm -rf .venv staticfiles .pytest_cache .mypy_cache .ruff_cache
