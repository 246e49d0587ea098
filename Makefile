# Two commands on a fresh machine: `make chapter` regenerates every figure, `make test` runs
# the tests. Both create .venv and install rlbook into it when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rlbook-installed

.PHONY: chapter test bench install lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "rlbook needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,dev]"
	touch $(STAMP)

chapter: $(STAMP)
	$(PY) -m rlbook.notebooks

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check rlbook tests benchmarks
	$(VENV)/bin/ruff format --check rlbook tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
