# gpunet — developer commands. `make demo` and `make test` create their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install demo test test-gpu gpu-check bench lint clean

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

# the CuPy suite and every benchmark on the GPU beside PyTorch, the table appended to
# docs/BENCHMARKS.md (tools/gpu_check.sh); GPU_PY: a Python with gpunet's CUDA extra
GPU_PY ?= $(PY)
gpu-check:
	PY=$(GPU_PY) bash tools/gpu_check.sh

# every CPU workload, gpunet beside PyTorch eager and Keras 3 (when installed), interleaved;
# KERAS_PYTHON: an interpreter with Keras 3 + JAX (default: this venv's, when it has Keras)
bench: install
	GPUNET_BENCH_KERAS_PYTHON=$(KERAS_PYTHON) $(PY) bench/run_all.py --rss --floor $(BENCH_ARGS)

lint: install
	$(PY) -m ruff check gpunet tests bench examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
