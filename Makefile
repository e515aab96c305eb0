# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make demo   the pipeline end to end on the local default stack
#   make test   the whole test suite (starts its own stack on its own ports)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit setup prereqs venv jars lint typecheck down clean help

help:
	@echo "make demo | make test | make unit (fast lane) | make lint | make down | make clean"

demo: setup
	$(BIN)/etl demo

test: setup
	$(BIN)/pytest

# The fast lane: no stack (a throwaway PostgreSQL for the SQL tests), a few minutes.
unit: venv
	$(BIN)/pytest -m "unit or infra"

setup: prereqs venv jars

prereqs:
	@bash infra/local/prereqs.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip setuptools wheel
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	@touch $(STAMP)

jars: venv
	$(BIN)/etl jars

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

down:
	$(BIN)/etl down

clean:
	-$(BIN)/etl down --purge
	rm -rf $(VENV)
