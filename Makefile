# Developer entry points; CI runs `make test` (see .ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: the venv is rebuilt only when the dependencies change.
STAMP := $(VENV)/.installed

.PHONY: venv db run test lint lock bench

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $@

db: venv
	$(BIN)/guildhall migrate

# The API on http://127.0.0.1:8000 and both job workers (short and bulk queues); Ctrl-C stops all.
run: venv db
	BIN=$(BIN) scripts/run-all.sh

# Extra pytest arguments: make test ARGS='-k readyz -x'
test: venv
	$(BIN)/guildhall check
	$(BIN)/pytest $(ARGS)

# Guildhall against its baselines over HTTP, in one run (needs wrk: apt-get install -y wrk).
# About 8 minutes; `make bench ARGS=--quick` is a one-minute smoke run.
bench: venv
	$(BIN)/python -m bench.api $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock: venv
	{ echo '# Versions tested together, used as pip constraints. Regenerate with: make lock'; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	touch $(STAMP)
