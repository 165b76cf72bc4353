# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs the package, runs the paper's protocol on the embedded digits
#   make test   creates .venv, installs the package with its test extras, runs lint and the suite
# CPU-only machine? `make test TORCH=torch==2.13.0` (or any CPU build) avoids the multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch>=2.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,experiments]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m corel_sklearn demo

lint: $(STAMP)
	$(BIN)/ruff check corel_sklearn tests benchmarks examples

test: lint
	$(BIN)/python -m pytest -q --doctest-modules corel_sklearn tests

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/bench_persistence.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
