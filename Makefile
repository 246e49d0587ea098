# Two commands on a fresh machine: `make chapter` regenerates every figure, `make test` runs
# the tests. Both create .venv and install rlbook into it when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rlbook-installed
BOOK_STAMP := $(VENV)/.rlbook-book-installed

.PHONY: chapter test test-cluster bench install lint clean book book-test

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "rlbook needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,dev,sweep]"
	touch $(STAMP)

chapter: $(STAMP)
	$(PY) -m rlbook.notebooks

# The chapter as an HTML book in build/book/ (quick mode: build/book-quick/), from the notebooks
# as `make chapter` executed them; runs those whose executed copy is missing or out of date.
book: $(BOOK_STAMP)
	$(PY) -m rlbook.notebooks --book

# Builds the quick book and opens every page in headless chromium (installed from Debian).
book-test: $(BOOK_STAMP)
	RLBOOK_QUICK=1 $(PY) -m pytest tests/book -m browser -q

$(BOOK_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e ".[notebooks,dev,book]"
	touch $(BOOK_STAMP)

# The chapter in Jupyter, to re-run its cells: .venv is registered as the kernel "Python
# (rlbook)" (inside .venv only), and no browser is opened on a machine without a display (open
# the address Jupyter prints). Jupyter refuses root unless told, as in a container.
HEADLESS := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name rlbook --display-name "Python (rlbook)"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(HEADLESS) \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

test: $(STAMP)
	$(PY) -m pytest

# Sweeps on a Ray cluster of several nodes started on this machine, losing a worker node, the
# driver and the head on purpose (minutes; `make test` runs the cluster's quick tests only).
test-cluster: $(STAMP)
	$(PY) -m pytest tests/cluster -m faults

bench: $(STAMP)
	$(PY) benchmarks/run.py --markdown

lint: $(STAMP)
	$(VENV)/bin/ruff check rlbook tests benchmarks
	$(VENV)/bin/ruff format --check rlbook tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
