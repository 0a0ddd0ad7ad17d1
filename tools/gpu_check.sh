#!/usr/bin/env bash
# The GPU checks in one script, for any machine with an NVIDIA GPU and gpunet installed with
# its CUDA extra (pip install -e ".[cuda13,dev]", or [cuda12]); PyTorch is optional (the
# benchmarks put it beside gpunet when it imports). Run from the repository root:
#     GPUNET_DATA_DIR=/path/to/folder/with/mnist.npz bash tools/gpu_check.sh
# Logs go to $OUT (default ./logs): the test suite on CuPy, then the benchmarks, whose table
# is also appended to docs/BENCHMARKS.md as a dated section (BENCH_MD= names another file),
# float32 against mixed_float16 on the tensor cores, and examples/compare_devices.py (CPU and
# GPU time and the largest gap of the seeded model's losses).
# `make gpu-check` runs it (GPU_PY= names the interpreter).
set -uo pipefail
OUT=${OUT:-logs}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-.}
PY=${PY:-python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
$PY -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)" \
  >> "$OUT/gpu.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__)" >> "$OUT/gpu.txt" 2>&1
echo "== test suite on CuPy"
GPUNET_BACKEND=cupy timeout "${SUITE_TIMEOUT:-600}" $PY -m pytest -q -p no:cacheprovider \
  tests > "$OUT/test-gpu.txt" 2>&1; echo "pytest rc=$?" | tee -a "$OUT/test-gpu.txt"
tail -5 "$OUT/test-gpu.txt"
echo "== every workload on the GPU, gpunet beside PyTorch (CUDA) when it imports"
timeout "${BENCH_TIMEOUT:-300}" $PY bench/run_all.py --device gpu --repeats "${REPEATS:-3}" \
  --json "$OUT/bench_gpu.json" --markdown "${BENCH_MD:-docs/BENCHMARKS.md}" \
  > "$OUT/bench_gpu.txt" 2>&1; echo "bench rc=$?" | tee -a "$OUT/bench_gpu.txt"
tail -25 "$OUT/bench_gpu.txt"
echo "== the tensor cores: float32 against mixed_float16 and TF32"
timeout "${MIXED_TIMEOUT:-150}" $PY bench/bench_mixed_precision.py --device gpu --repeats 2 \
  --policies float32,mixed_float16,float32+tf32 \
  > "$OUT/mixed_gpu.txt" 2>&1; echo "mixed rc=$?" | tee -a "$OUT/mixed_gpu.txt"
tail -8 "$OUT/mixed_gpu.txt"
echo "== the same seeded model on the CPU and the GPU"
timeout "${COMPARE_TIMEOUT:-120}" $PY examples/compare_devices.py --epochs 2 --limit 10000 \
  > "$OUT/compare_devices.txt" 2>&1; echo "compare rc=$?" | tee -a "$OUT/compare_devices.txt"
tail -5 "$OUT/compare_devices.txt"
