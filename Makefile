# Kreide: `make run` serves the demo school, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test install install-test lint format messages clean test-postgres test-janus test-sqlite test-district bench

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base-installed: $(BIN)/python requirements/base.txt pyproject.toml
	$(BIN)/pip install -q -r requirements/base.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.base-installed requirements/test.txt
	$(BIN)/pip install -q -r requirements/test.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

messages: $(VENV)/.base-installed
	$(BIN)/kreide compilemessages -v0 --ignore=.venv --ignore=node_modules --ignore=var

install: $(VENV)/.base-installed node_modules/.installed
	scripts/system-packages.sh run
	$(MAKE) -s messages

install-test: install $(VENV)/.test-installed
	scripts/system-packages.sh test

run: install
	$(BIN)/kreide migrate -v0
	$(BIN)/kreide collectstatic --noinput -v0
	$(BIN)/kreide seed-demo
	KREIDE_JANUS=$${KREIDE_JANUS:-auto} $(BIN)/kreide serve

# The whole suite against the production backends (PostgreSQL, Redis), then a smoke run
# against the embedded default (SQLite, in-process cache). Both runs use WORKERS processes
# (pytest-xdist, a test file per process at a time; tests/workers.py gives each its own test
# database, Redis db N + k and data directory): much of the PostgreSQL run waits on servers,
# browsers and subprocesses.
test: install-test
	$(BIN)/ruff check kreide tests bench
	$(MAKE) -s test-postgres WORKERS=3
	$(MAKE) -s test-janus
	$(MAKE) -s test-sqlite WORKERS=2

XDIST = $(if $(WORKERS),-n $(WORKERS) --dist loadfile)

test-postgres:
	KREIDE_TESTING=true KREIDE_DATABASE_URL=$(PG_URL) KREIDE_REDIS_URL=$(REDIS_URL) \
	  KREIDE_DATA_DIR=$(CURDIR)/var/test-pg $(BIN)/pytest -m "not janus" $(XDIST) $(PYTEST_ARGS)

# Only the tests with several nodes behind HAProxy (part of test-postgres): PostgreSQL
# failover, Redis Sentinels, the GlusterFS store and a rolling upgrade (about 4 minutes).
test-district: install-test
	KREIDE_TESTING=true KREIDE_DATABASE_URL=$(PG_URL) KREIDE_REDIS_URL=$(REDIS_URL) \
	  KREIDE_DATA_DIR=$(CURDIR)/var/test-district $(BIN)/pytest -m "district" $(PYTEST_ARGS)

# Janus skips loopback interfaces when gathering ICE candidates, so the video tests run in a
# network namespace of their own with a veth pair (scripts/janus/in-netns.sh; needs root).
test-janus:
	KREIDE_TESTING=true KREIDE_DATABASE_URL=$(PG_URL) KREIDE_DATA_DIR=$(CURDIR)/var/test-janus \
	  scripts/janus/in-netns.sh $(BIN)/pytest -m janus $(PYTEST_ARGS)

test-sqlite:
	KREIDE_TESTING=true KREIDE_DATA_DIR=$(CURDIR)/var/test-sqlite \
	  $(BIN)/pytest -m "not browser and not janus and not slow" $(XDIST) $(PYTEST_ARGS)

# The 8:00 wave against nginx + kreide serve + PostgreSQL + Redis (about 15 minutes);
# the report goes to bench/results/<date>/report.md.
bench: install-test
	$(BIN)/python bench/wave/run.py $(BENCH_ARGS)

lint:
	$(BIN)/ruff check kreide tests bench
	$(BIN)/ruff format --check kreide tests bench

format:
	$(BIN)/ruff format kreide tests bench
	$(BIN)/ruff check --fix kreide tests bench

clean:
	rm -rf $(VENV) node_modules var
