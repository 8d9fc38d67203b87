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

.PHONY: env book test clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

book: $(STAMP)
	$(BIN)/trainingdynamics build --profile $(PROFILE)

# pytest-xdist runs two workers on two cores: one thread each, or OpenMP spin-waits stall them.
test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf _build
