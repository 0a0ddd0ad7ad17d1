# gpunet — developer commands. `make demo` and `make test` create their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install demo test test-gpu bench lint clean

# the runtime (numpy, h5py) is all `make demo` needs; the test tools come with `make install`
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.runtime
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
