# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs the package, runs the paper's protocol on the embedded digits
#   make test   creates .venv, installs the package with its test extras, runs lint and the suite
#   make docs   installs the [docs] extra, builds the site into docs/_build/html (warnings are errors)
#   make dist   builds the wheel and the sdist into dist/ and checks them with twine
# CPU-only machine? `make test TORCH=torch==2.13.0` (or any CPU build) avoids the multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch>=2.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: install demo test lint bench docs dist clean

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

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs,notebook]"
	touch $(DOCS_STAMP)

# The notebooks are rendered as stored (no execution): the build runs no training.
docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Needs only build and twine, not the package's dependencies.
dist:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "build>=1" "twine>=5"
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist docs/_build docs/generated docs/gallery *.egg-info .pytest_cache .ruff_cache
