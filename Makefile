# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs the package, runs the paper's protocol on the embedded digits
#   make test   creates .venv, installs the package with its test and docs extras, runs lint and the
#               suite (which builds the docs site with warnings as errors); no triton: the Triton
#               kernel tests skip. `make test EXTRAS=test,gpu` adds triton (as CI does), which
#               runs them (in Triton's CPU interpreter on a machine without a GPU)
#   make docs   installs the [docs] extra, builds the site into docs/_build/html (warnings are errors)
#   make dist   builds the wheel and the sdist into dist/ and checks them with twine
#   make test-min  runs the suite's fast tests (-m "not slow") in .venv-min against the oldest
#               dependencies setup.cfg claims (the slow ones exercise the same code at length)
# CPU-only machine? `make test TORCH=torch==2.13.0` (or any CPU build) avoids the multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch>=2.13
EXTRAS ?= test
BIN := $(VENV)/bin
comma := ,
# one stamp per set of extras, so that `make test EXTRAS=test,gpu` installs triton in a .venv
# that a plain `make test` made
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: install demo test test-min lint bench docs dist clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS),experiments,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m corel_sklearn demo

lint: $(STAMP)
	$(BIN)/ruff check corel_sklearn tests benchmarks examples

test: lint
	$(BIN)/python -m pytest -q --doctest-modules corel_sklearn tests

# The oldest numpy, scipy, scikit-learn, torch, numba, joblib, tqdm and pillow that setup.cfg
# allows (pinned in .ci/constraints-min.txt), with the test tools that install beside them;
# tests of extras that need newer releases (dask) skip. No doctests: their outputs are written
# for numpy 2's reprs.
VENV_MIN ?= .venv-min
MIN_STAMP := $(VENV_MIN)/.installed

$(MIN_STAMP): setup.cfg pyproject.toml .ci/constraints-min.txt
	test -x $(VENV_MIN)/bin/python || $(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install -q --upgrade pip
	$(VENV_MIN)/bin/python -m pip install -q -c .ci/constraints-min.txt -e . pytest ripser \
		"pandas>=1.5" "matplotlib>=3.6" skops safetensors pyod
	touch $(MIN_STAMP)

test-min: $(MIN_STAMP)
	NUMBA_CACHE_DIR=$(VENV_MIN)/numba-cache $(VENV_MIN)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" tests

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/bench_persistence.py

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs,notebook]"
	touch $(DOCS_STAMP)

# The gallery shows the notebooks with their stored outputs: the build runs no training, and
# needs no network (local inventories in docs/_intersphinx/, formulas as MathML).
docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Runs every notebook of examples/ at its documented settings and stores its outputs for the
# gallery; tests/test_notebooks.py fails when a notebook's code changed since its last run.
# `$(BIN)/python examples/execute_notebooks.py examples/NAME.ipynb` runs one.
.PHONY: notebooks
notebooks: $(DOCS_STAMP)
	$(BIN)/python examples/execute_notebooks.py

# Needs only build and twine, not the package's dependencies.
dist:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "build>=1" "twine>=5"
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

clean:
	rm -rf $(VENV) $(VENV_MIN) build dist docs/_build docs/generated docs/gallery *.egg-info .pytest_cache .ruff_cache
