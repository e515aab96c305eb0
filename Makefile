# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make demo   the pipeline end to end on the local default stack
#   make test   the whole test suite (starts its own stack on its own ports)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit setup prereqs venv jars lint typecheck bench bench-compare compare capacity load load-ui \
	down clean help

help:
	@echo "make demo | make test | make unit (fast lane) | make lint | make bench | make bench-compare | make compare | make capacity | make load | make down | make clean"

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

# Benchmarks (pytest-benchmark; the transform's starts the test stack on its own ports): each run
# is saved as JSON in $(BENCH_DIR) (under ETL_HOME, git-ignored), the rates in `extra_info`.
# bench-compare: the newest saved run against the one before; exit 1 when a time or rate got
# worse by more than BENCH_THRESHOLD percent.
BENCH_DIR       ?= $(or $(ETL_HOME),.etl)/benchmarks
BENCH_THRESHOLD ?= 10

bench: setup
	$(BIN)/pytest tests/benchmarks --benchmark-only -p no:cacheprovider \
		--benchmark-storage=file://$(BENCH_DIR) --benchmark-autosave

bench-compare: venv
	$(BIN)/etl bench compare-runs --storage $(BENCH_DIR) --threshold $(BENCH_THRESHOLD)

# Load on the running stack (started first when it is not healthy): LOAD_SHAPE (steady, ramp,
# spike, step), LOAD_USERS peak users (the e2e probe is one), LOAD_TIME the run's length.
# Locust's HTML and CSV reports go to $(LOAD_DIR) (under ETL_HOME, git-ignored).
LOAD_SHAPE ?= steady
LOAD_USERS ?= 10
LOAD_TIME  ?= 30s
LOAD_DIR   ?= $(or $(ETL_HOME),.etl)/loadtests
LOAD_NAME  := $(LOAD_DIR)/$(LOAD_SHAPE)-$(shell date -u +%Y%m%dT%H%M%SZ)
LOAD_WEB_PORT ?= 8089

load: setup
	@$(BIN)/etl status >/dev/null 2>&1 || $(BIN)/etl up
	@mkdir -p $(LOAD_DIR)
	LOAD_SHAPE=$(LOAD_SHAPE) $(BIN)/locust --config loadtests/locust.conf \
		-u $(LOAD_USERS) -t $(LOAD_TIME) --csv $(LOAD_NAME) --html $(LOAD_NAME).html
	@echo "reports: $(LOAD_NAME).html and $(LOAD_NAME)_*.csv"

# This pipeline beside its peers (Debezium JDBC sink, PostgreSQL logical replication) under the
# same Locust load, plus the source-only ceiling: a table, a chart, `pipeline/peer: R` last.
# Reports under $(LOAD_DIR)/compare-<time>/; COMPARE_ARGS passes options (`etl bench compare --help`).
COMPARE_ARGS ?=
compare: setup
	@$(BIN)/etl status >/dev/null 2>&1 || $(BIN)/etl up
	$(BIN)/etl bench compare $(COMPARE_ARGS)

# This pipeline's highest sustained rate alone (`etl bench capacity --help` for CAPACITY_ARGS).
CAPACITY_ARGS ?=
capacity: setup
	@$(BIN)/etl status >/dev/null 2>&1 || $(BIN)/etl up
	$(BIN)/etl bench capacity $(CAPACITY_ARGS)

# The Locust web UI on http://127.0.0.1:$(LOAD_WEB_PORT) (users, rate and run time set there).
load-ui: setup
	@$(BIN)/etl status >/dev/null 2>&1 || $(BIN)/etl up
	LOAD_SHAPE=$(LOAD_SHAPE) $(BIN)/locust -f loadtests/locustfile.py \
		--web-host 127.0.0.1 --web-port $(LOAD_WEB_PORT)

down:
	$(BIN)/etl down

clean:
	-$(BIN)/etl down --purge
	rm -rf $(VENV)
