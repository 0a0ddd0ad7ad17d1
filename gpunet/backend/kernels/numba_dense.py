"""One-pass CPU loops of the fused Dense and convolution ops with Numba: ``y += b`` then ReLU
in the forward (ReLU alone, over both cores for a convolution's large output), and the ReLU
gradient with the bias gradient (its column sums) in the backward.

NumPy makes two or three passes over the ``(rows, units)`` activations for these, each a short
call; one compiled pass on one thread (no thread start) is several times faster for the sizes
of a training batch. The column sums add the rows in order, as NumPy's ``sum(axis=0)`` of a
C-ordered array does, so the results are the NumPy path's to the bit. Without Numba (or with
``GPUNET_NUMBA=0``) the callers keep the NumPy path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.kernels.numba_cpu import (
    _LAUNCH,
    MIN_SIZE,
    SERIAL_MIN_SIZE,
    _float_ok,
    compiled,
)


def _build() -> tuple:
    import numba
    from numba import prange

    @numba.njit(cache=True, nogil=True)
    def bias_act(y, b, relu):  # pragma: no cover - compiled
        n, m = y.shape
        zero = y.dtype.type(0)
        for i in range(n):
            row = y[i]
            if relu:
                for j in range(m):
                    v = row[j] + b[j]
                    row[j] = zero if v <= zero else v  # NaN stays NaN, as np.maximum
            else:
                for j in range(m):
                    row[j] += b[j]

    @numba.njit(cache=True, nogil=True)
    def relu_flat(y):  # pragma: no cover - compiled
        zero = y.dtype.type(0)
        for i in range(y.size):
            v = y[i]
            y[i] = zero if v <= zero else v

    @numba.njit(parallel=True, cache=True, nogil=True)
    def relu_rows(y):  # pragma: no cover - compiled
        zero = y.dtype.type(0)
        for i in prange(y.shape[0]):
            row = y[i]
            for j in range(y.shape[1]):
                v = row[j]
                row[j] = zero if v <= zero else v

    @numba.njit(cache=True, nogil=True)
    def relu_grad_bias(gy, y, g, gb):  # pragma: no cover - compiled
        n, m = gy.shape
        zero = g.dtype.type(0)
        for j in range(m):
            gb[j] = zero
        for i in range(n):
            for j in range(m):
                v = gy[i, j] if y[i, j] > zero else zero
                g[i, j] = v
                gb[j] += v

    return bias_act, relu_grad_bias, relu_flat, relu_rows


def _kernels() -> tuple | None:
    return compiled("dense", _build)


def _ok(a: Any) -> bool:
    return (isinstance(a, np.ndarray) and a.ndim == 2 and a.flags.c_contiguous
            and a.size >= SERIAL_MIN_SIZE and _float_ok(a.dtype))


def bias_act(y: np.ndarray, b: Any, relu: bool) -> bool:
    """``y += b`` (``b`` may be None) then ReLU when ``relu``, in place, in one pass; False
    when the caller must do it (no Numba, small or odd arrays)."""
    if not _ok(y) or (b is not None and (getattr(b, "dtype", None) != y.dtype
                                          or b.shape != y.shape[1:])):
        return False
    k = _kernels()
    if k is None:
        return False
    if b is not None:
        k[0](y, b, relu)
    elif relu and y.size >= MIN_SIZE:  # large (a convolution's output): both cores
        with _LAUNCH:
            k[3](y)
    elif relu:
        k[2](y.reshape(-1))
    return True


def relu_grad_bias(gy: np.ndarray, y: np.ndarray, gb: Any = None) -> tuple | None:
    """``(g, gb)``: ``g = gy * (y > 0)`` and its column sums, written into ``gb`` when given;
    None when the caller must do it."""
    if not (_ok(gy) and isinstance(y, np.ndarray) and y.dtype == gy.dtype
            and y.shape == gy.shape and y.flags.c_contiguous):
        return None
    if gb is not None and not (gb.flags.c_contiguous and gb.shape == gy.shape[1:]
                               and gb.dtype == gy.dtype):
        return None
    k = _kernels()
    if k is None:
        return None
    g = np.empty_like(gy)
    if gb is None:
        gb = np.empty(gy.shape[1], gy.dtype)
    k[1](gy, y, g, gb)
    return g, gb
