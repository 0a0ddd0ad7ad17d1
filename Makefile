# gpunet — developer commands. `make demo` and `make test` create their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export GPUNET_DATA_DIR ?= $(abspath ../shared/datasets)

.PHONY: install demo test test-gpu bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/mnist_mlp.py --epochs 5

test: install
	GPUNET_BACKEND=numpy $(PY) -m pytest -m "not gpu" tests

test-gpu: install
	GPUNET_BACKEND=cupy $(PY) -m pytest tests

bench: install
	$(PY) bench/bench_mlp.py

lint: install
	$(PY) -m ruff check gpunet tests bench examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
