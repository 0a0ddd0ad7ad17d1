"""The NumPy backend: arrays on the host CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import cpu_threads, philox
from gpunet.backend.base import Array, Backend
from gpunet.backend.host_memory import tune_host_malloc
from gpunet.backend.kernels import (
    numba_conv_pool,
    numba_cpu,
    numba_dense,
    numba_philox,
    numba_rnn,
    numba_rnn_loops,
)
from gpunet.backend.numpy_routines import NumpyRoutines, openblas_library


class NumpyBackend(NumpyRoutines, Backend):
    """Backend running on the CPU through NumPy (its device routines: ``NumpyRoutines``)."""

    name = "numpy"
    device = "cpu"
    xp = np

    def __init__(self) -> None:
        self._rng = np.random.default_rng()
        self.philox = philox.PhiloxStream(philox.fresh_seed())  # dropout and noise draws
        tune_host_malloc()  # large temporaries reused from the heap (GPUNET_HOST_MALLOC=0: off)

    def asarray(self, x: Any, dtype: Any = None) -> Array:
        if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
            x = x.get()  # a CuPy array: explicit device-to-host copy
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
            return x.get()
        return np.asarray(x)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)
        self.philox = philox.PhiloxStream(philox.fresh_seed() if seed is None else seed)

    def random_uniform(self, shape: tuple, dtype: Any = "float32") -> Array:
        return self.philox.uniform(self, shape, dtype)

    def permutation(self, n: int) -> Array:
        return self._rng.permutation(n)

    # Philox draws: one threaded pass with Numba (gpunet[numba]), else NumPy (the reference)
    def philox_words(self, start: int, n: int, key: tuple) -> Array:
        out = numba_philox.words(start, n, key)
        return philox.words(start, n, key) if out is None else out

    def philox_dropout(self, x: Array, start: int, key: tuple, rate: float) -> tuple:
        out = numba_philox.dropout(x, start, key, philox.keep_threshold(rate),
                                   x.dtype.type(1.0 - rate))
        return super().philox_dropout(x, start, key, rate) if out is None else out

    def dropout_grad(self, gy: Array, keep: Array, rate: float) -> Array:
        out = None
        if keep.dtype == np.uint8:
            out = numba_philox.dropout_grad(gy, keep, gy.dtype.type(1.0 - rate))
        return super().dropout_grad(gy, keep, rate) if out is None else out

    def bias_act(self, y: Array, b: Array | None, relu: bool) -> None:
        if not numba_dense.bias_act(y, b, relu):  # one pass with Numba, else NumPy's two
            super().bias_act(y, b, relu)

    def relu_grad_bias(self, gy: Array, y: Array, gb: Array | None = None) -> tuple:
        out = numba_dense.relu_grad_bias(gy, y, gb)
        return super().relu_grad_bias(gy, y, gb) if out is None else out

    def relu_grad(self, gy: Array, y: Array) -> Array:
        out = numba_cpu.relu_grad(gy, y)  # one pass with Numba (gpunet[numba])
        if out is None:
            out = np.empty_like(gy)
            np.multiply(gy, y > 0, out=out)
        return out

    def all_finite(self, x: Array) -> bool:
        return numba_cpu.all_finite(x)  # one pass over the bits with Numba, else BLAS dot

    def finite_check(self, x: Array) -> Any:
        return numba_cpu.finite_check(x)

    def row_blocks(self, n: int) -> list:
        return cpu_threads.row_blocks(n)  # one per core, at least MIN_ROWS rows each

    def run_blocks(self, fn: Any, blocks: list) -> list:
        return cpu_threads.run_blocks(fn, blocks)

    # -- fused CPU loops (Numba when installed; ``None`` sends the op to its array path) --
    def max_pool2x2(self, x: Array, out_hw: tuple[int, int], track: bool) -> tuple | None:
        return numba_cpu.max_pool2x2_fwd(x, out_hw[0], out_hw[1], track)

    def max_pool2x2_grad(self, gy: Array, winners: Array, in_shape: tuple) -> Array:
        return numba_cpu.max_pool2x2_bwd(gy, winners, in_shape)

    def conv_relu_pool_ok(self, dtype: Any, ksize: tuple, channels: int) -> bool:
        return (ksize[0] * ksize[1] * channels <= numba_conv_pool.MAX_PATCH
                and numba_cpu._float_ok(dtype) and numba_cpu.numba_enabled())

    def conv_relu_pool(self, x: Array, w: Array, b: Array | None) -> tuple:
        return numba_conv_pool.conv_relu_pool_fwd(x, w, b)

    def conv_relu_pool_grad(self, x: Array, gy: Array, y: Array, winners: Array,
                            ksize: tuple) -> tuple:
        return numba_conv_pool.conv_relu_pool_bwd(x, gy, y, winners, ksize)

    def lstm_cell_step(self, dtype: Any) -> Any:
        return numba_rnn.lstm_cell_step(dtype)

    def gru_cell_step(self, dtype: Any) -> Any:
        return numba_rnn.gru_cell_step(dtype)

    def gru_bptt_step(self, dtype: Any) -> Any:
        return numba_rnn.gru_bptt_step(dtype)

    def lstm_bptt_step(self, dtype: Any) -> Any:
        return numba_rnn.lstm_bptt_step(dtype)

    def lstm_loops(self, dtype: Any) -> tuple | None:
        return numba_rnn_loops.lstm_loops(dtype, openblas_library())

    def gru_loops(self, dtype: Any) -> tuple | None:
        return numba_rnn_loops.gru_loops(dtype, openblas_library())

    def conv_input_grad(self, gy: Array, w2: Array, out_nhw: tuple, in_shape: tuple,
                        ksize: tuple, strides: tuple, dilation: tuple) -> Array | None:
        if not numba_cpu.numba_enabled() or gy.size * len(w2) < numba_cpu.MIN_SIZE:
            return None
        dcols = (gy @ w2.T).reshape(out_nhw + (-1,))  # one GEMM for every kernel offset
        return numba_cpu.col2im(dcols, in_shape, ksize, strides, dilation)
