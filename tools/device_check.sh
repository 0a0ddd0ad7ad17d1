#!/usr/bin/env bash
# The GPU checks, as one script for the lent device machine (no network; Python with CuPy,
# NumPy, h5py, pytest and torch preinstalled). Run from the repo root, with MNIST copied into
# the git-ignored ./data folder beforehand (cp ../shared/datasets/mnist.npz data/) and `data`
# named in the device tool's `carry`. Writes logs to $OUT (or ./logs).
set -uo pipefail
OUT=${OUT:-logs}
mkdir -p "$OUT"
export PYTHONPATH=. GPUNET_DATA_DIR=${GPUNET_DATA_DIR:-data}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python -c "import cupy, numpy, torch; print('cupy', cupy.__version__, 'numpy', numpy.__version__,
'torch', torch.__version__)" >> "$OUT/gpu.txt" 2>&1
echo "== suite on CuPy"
GPUNET_BACKEND=cupy timeout ${SUITE_TIMEOUT:-300} python -m pytest -q -x -p no:cacheprovider \
  tests > "$OUT/test-gpu.txt" 2>&1; echo "pytest rc=$?" | tee -a "$OUT/test-gpu.txt"
tail -5 "$OUT/test-gpu.txt"
echo "== MLP benchmark on the GPU beside PyTorch"
timeout ${BENCH_TIMEOUT:-150} python bench/bench_mlp.py --device gpu --repeats 3 \
  --json "$OUT/bench_mlp_gpu.json" > "$OUT/bench_mlp_gpu.txt" 2>&1
tail -8 "$OUT/bench_mlp_gpu.txt"
for b in bench_cnn bench_rnn; do
  if [ -f bench/$b.py ]; then
    echo "== $b on the GPU"
    timeout ${BENCH_TIMEOUT:-150} python bench/$b.py --device gpu > "$OUT/${b}_gpu.txt" 2>&1
    tail -8 "$OUT/${b}_gpu.txt"
  fi
done
