# Two commands: `make book` (build the HTML book) and `make test` (run every test).
# The torch wheel is a variable so that users elsewhere can pick theirs, e.g.
#   make book TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PROFILE ?= full
PYTEST_ARGS ?= -n 2 --dist loadfile

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# BackPACK declares torchvision, which would replace the CPU torch with a multi-GB CUDA build, and
# curvlinops declares BackPACK: these three go in with --no-deps (their small deps: the bench extra).
NO_DEPS_SPEC ?= backpack-for-pytorch==1.7.1 curvlinops-for-pytorch==3.0.1 hessian-eigenthings==1.0.0a5

.PHONY: env book lint format test test-fast bench robustness clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m pip install --quiet --no-deps $(NO_DEPS_SPEC)
	touch $@

book: $(STAMP)
	$(BIN)/trainingdynamics build --profile $(PROFILE)

# ruff (its settings are in pyproject.toml): the package, tests, benchmarks and the notebooks' code cells.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest-xdist runs two workers on two cores: one thread each, or OpenMP spin-waits stall them.
test: lint
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: everything except chapter execution (no notebooks, no book build, no runner runs).
test-fast: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow" tests

# Benchmarks of the spectra diagnostics against curvlinops, hessian-eigenthings, PyHessian and
# BackPACK (`python -m bench`, minutes; writes bench/results.json and the book's Performance
# appendix). The full book is built first, so that the book's own cost (each chapter's full-profile
# time and an unchanged rebuild) is measured too. Not part of `make test`, which only smoke-tests
# `python -m bench --quick`.
bench: $(STAMP)
	$(BIN)/trainingdynamics build --profile full
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m bench
	$(BIN)/trainingdynamics build --profile full  # re-render the HTML with the new Performance page

# Every chapter's quick profile over seeds 0-9 on an embedded Dask cluster; writes the committed
# book/robustness.json that the Robustness appendix and the status page's hold rates render.
robustness: $(STAMP)
	$(BIN)/trainingdynamics robustness --seeds 0-9

clean:
	rm -rf _build
