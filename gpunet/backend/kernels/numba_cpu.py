"""Optional Numba kernels for CPU loops that NumPy runs as many short strided passes.

Installed with ``pip install gpunet[numba]``; without Numba, or with ``GPUNET_NUMBA=0`` in
the environment, every caller keeps its pure-NumPy path (which the tests use as the reference
for these kernels). Kernels compile on first use (cached on disk by Numba) and split the
batch over the cores with ``prange``, as the BLAS does with its products (on Numba's
``workqueue`` threading layer unless ``NUMBA_THREADING_LAYER`` says otherwise).

- ``max_pool2x2_fwd`` / ``max_pool2x2_bwd``: 2x2, stride-2 max pooling of NHWC arrays. NumPy
  reads each window corner as a strided slab whose contiguous runs are only ``C`` long; one
  pass here reads the four corners, writes the maximum and the winning corner (the first
  one in row-major order on ties, as the NumPy path), and backward writes every input cell
  once.
- ``relu_grad``: ``gy * (y > 0)`` in one pass, for the convolutions' fused ReLU.
- ``col2im``: the convolution's input gradient, one image per thread.
- ``all_finite``: whether no element of a float array is NaN or +-Inf, in one read of its
  bits (exponent all ones), with no overflow and no temporary array.

The recurrent layers' kernels are in ``gpunet.backend.kernels.numba_rnn`` (per step) and
``gpunet.backend.kernels.numba_rnn_loops`` (a whole time loop).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_STATE: dict[str, Any] = {}
# Numba's workqueue layer runs one parallel kernel at a time per process (a second launch
# from another thread aborts the process): the parallel kernels here take turns.
_LAUNCH = threading.Lock()
# Below this many elements NumPy's own passes are faster than starting Numba's threads
# (measured: 20-60 us in NumPy against ~170 us for a (128, 512) ReLU gradient on 2 cores).
MIN_SIZE = 1 << 18
# From this many elements a one-thread compiled pass beats NumPy's (no thread start).
SERIAL_MIN_SIZE = 1 << 12


# ``os.environ.get`` encodes the key and decodes the value at each call (about 1 us with the
# parsing below, and the kernels ask at every launch): read the raw mapping where CPython has
# one, and parse a value only when it is not the one seen last
_ENV_DATA = getattr(os.environ, "_data", None)
_ENV_KEY = (os.environ.encodekey("GPUNET_NUMBA") if _ENV_DATA is not None
            and hasattr(os.environ, "encodekey") else None)
_FLAG: list = [None, True]  # the raw value last seen, and whether it leaves Numba on


def _numba_flag() -> bool:
    raw = (_ENV_DATA.get(_ENV_KEY) if _ENV_KEY is not None
           else os.environ.get("GPUNET_NUMBA"))
    if raw is not _FLAG[0]:
        text = raw.decode() if isinstance(raw, bytes) else (raw or "1")
        _FLAG[1] = text.strip().lower() not in ("0", "false", "no", "off")
        _FLAG[0] = raw
    return _FLAG[1]


def numba_enabled() -> bool:
    """Whether Numba is importable and not turned off by ``GPUNET_NUMBA=0``."""
    if not _numba_flag():
        return False
    if "numba" not in _STATE:
        try:
            import numba

            if not os.environ.get("NUMBA_THREADING_LAYER"):
                # the pool of Numba's own, which sleeps between calls: the OpenMP layer spins,
                # measured here at 4-8x the CPU time of one thread on a busy 2-core machine
                numba.config.THREADING_LAYER = "workqueue"
        except ImportError:
            numba = None
        _STATE["numba"] = numba
    return _STATE["numba"] is not None


_FLOAT_OK: dict = {}


def _float_ok(dtype: Any) -> bool:
    """float32 and float64 only (Numba's float16 arithmetic is incomplete); None: any."""
    if dtype is None:
        return True
    try:
        return _FLOAT_OK[dtype]
    except (KeyError, TypeError):  # first time, or an unhashable dtype-like
        import numpy as np

        ok = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))
        try:
            _FLOAT_OK[dtype] = ok
        except TypeError:
            pass
        return ok


def _build_pool() -> tuple:
    import numba
    from numba import prange

    @numba.njit(parallel=True, cache=True, nogil=True)
    def fwd(x, y, idx, track):  # pragma: no cover - compiled
        n, oh, ow, c = y.shape
        for b in prange(n):
            for i in range(oh):
                for j in range(ow):
                    for k in range(c):
                        best = x[b, 2 * i, 2 * j, k]
                        w = 0
                        v = x[b, 2 * i, 2 * j + 1, k]
                        if v > best or v != v:
                            best, w = v, 1
                        v = x[b, 2 * i + 1, 2 * j, k]
                        if v > best or v != v:
                            best, w = v, 2
                        v = x[b, 2 * i + 1, 2 * j + 1, k]
                        if v > best or v != v:
                            best, w = v, 3
                        y[b, i, j, k] = best
                        if track:
                            idx[b, i, j, k] = w

    @numba.njit(parallel=True, cache=True, nogil=True)
    def bwd(gy, idx, gx):  # pragma: no cover - compiled
        n, oh, ow, c = gy.shape
        zero = gy.dtype.type(0)
        for b in prange(n):
            for i in range(oh):
                for j in range(ow):
                    for k in range(c):
                        g = gy[b, i, j, k]
                        w = idx[b, i, j, k]
                        gx[b, 2 * i, 2 * j, k] = g if w == 0 else zero
                        gx[b, 2 * i, 2 * j + 1, k] = g if w == 1 else zero
                        gx[b, 2 * i + 1, 2 * j, k] = g if w == 2 else zero
                        gx[b, 2 * i + 1, 2 * j + 1, k] = g if w == 3 else zero

    return fwd, bwd


def compiled(name: str, build: Callable[[], Any]) -> Any:
    """The kernels ``build()`` returns, built on first use and kept under ``name``; None
    without Numba (or with ``GPUNET_NUMBA=0``)."""
    if not numba_enabled():
        return None
    kernels = _STATE.get(name)
    if kernels is None:
        kernels = _STATE[name] = build()
    return kernels


def _pool_kernels() -> tuple | None:
    return compiled("pool", _build_pool)


def max_pool2x2_fwd(x: Any, oh: int, ow: int, track: bool) -> tuple | None:
    """``(y, idx)`` of 2x2 stride-2 max pooling of NHWC ``x`` (``idx``: the winning corner,
    0..3 row-major, as uint8; None unless ``track``), or None without Numba."""
    import numpy as np

    if not isinstance(x, np.ndarray) or not _float_ok(x.dtype) or x.size < MIN_SIZE:
        return None
    k = _pool_kernels()
    if k is None:
        return None
    n, _, _, c = x.shape
    y = np.empty((n, oh, ow, c), x.dtype)
    idx = np.empty((n, oh, ow, c) if track else (1, 1, 1, 1), np.uint8)
    with _LAUNCH:
        k[0](x, y, idx, track)
    return y, (idx if track else None)


def max_pool2x2_bwd(gy: Any, idx: Any, pshape: tuple) -> Any:
    """The input gradient ``(N, H, W, C)`` of ``max_pool2x2_fwd`` (cells outside every
    window, the last row / column of an odd size, get zero)."""
    import numpy as np

    n, oh, ow, c = gy.shape
    gx = np.empty(pshape, gy.dtype)
    if pshape[1] > 2 * oh:
        gx[:, 2 * oh:] = 0
    if pshape[2] > 2 * ow:
        gx[:, :, 2 * ow:] = 0
    with _LAUNCH:
        _pool_kernels()[1](np.ascontiguousarray(gy), idx, gx)
    return gx


def _build_relu_grad() -> Any:
    import numba
    from numba import prange

    @numba.njit(parallel=True, cache=True, nogil=True)
    def relu_grad(gy, y, out):  # pragma: no cover - compiled
        zero = out.dtype.type(0)
        for i in prange(gy.shape[0]):
            for j in range(gy.shape[1]):
                out[i, j] = gy[i, j] if y[i, j] > 0 else zero

    @numba.njit(cache=True, nogil=True)
    def relu_grad_flat(gy, y, out):  # pragma: no cover - compiled
        # one thread over contiguous buffers: vectorized, no thread start (mid sizes)
        zero = out.dtype.type(0)
        for i in range(gy.size):
            out[i] = gy[i] if y[i] > 0 else zero

    return relu_grad, relu_grad_flat


def relu_grad(gy: Any, y: Any) -> Any:
    """``gy * (y > 0)`` for 2-D NumPy arrays in one pass (no bool temporary), or None
    without Numba (the caller then uses its NumPy form)."""
    import numpy as np

    if not isinstance(gy, np.ndarray) or gy.ndim != 2 or gy.size < SERIAL_MIN_SIZE:
        return None
    if not _float_ok(gy.dtype) or getattr(y, "dtype", None) != gy.dtype:
        return None
    if not numba_enabled():
        return None
    if "relu_grad" not in _STATE:
        _STATE["relu_grad"] = _build_relu_grad()
    out = np.empty(gy.shape, gy.dtype)
    if gy.size < MIN_SIZE:
        if not (gy.flags.c_contiguous and y.flags.c_contiguous and y.shape == gy.shape):
            return None
        _STATE["relu_grad"][1](gy.reshape(-1), y.reshape(-1), out.reshape(-1))
        return out
    with _LAUNCH:
        _STATE["relu_grad"][0](gy, y, out)
    return out


def _build_col2im() -> Any:
    import numba
    from numba import prange

    @numba.njit(parallel=True, cache=True, nogil=True)
    def col2im(dcols, gx, kh, kw, sh, sw, dh, dw):  # pragma: no cover - compiled
        n_, oh, ow, k = dcols.shape
        c = gx.shape[3]
        for n in prange(n_):
            gx[n] = 0
            for i in range(oh):
                for j in range(ow):
                    for a in range(kh):
                        r = i * sh + a * dh
                        for b in range(kw):
                            q = j * sw + b * dw
                            o = (a * kw + b) * c
                            for ch in range(c):
                                gx[n, r, q, ch] += dcols[n, i, j, o + ch]

    return col2im


def col2im(dcols: Any, pshape: tuple, ksize: tuple, strides: tuple, dilation: tuple) -> Any:
    """Sums the column gradients ``dcols`` ``(N, OH, OW, kh*kw*C)`` back onto a (padded)
    NHWC input of shape ``pshape``, one image per thread; None without Numba."""
    import numpy as np

    if not isinstance(dcols, np.ndarray) or not _float_ok(dcols.dtype) or not numba_enabled():
        return None
    if "col2im" not in _STATE:
        _STATE["col2im"] = _build_col2im()
    gx = np.empty(pshape, dcols.dtype)
    with _LAUNCH:
        _STATE["col2im"](dcols, gx, ksize[0], ksize[1], strides[0], strides[1], dilation[0],
                         dilation[1])
    return gx


# exponent bits of each float width: a value is NaN or +-Inf exactly when they are all ones
_EXPONENT = {2: (0x7C00, "uint16"), 4: (0x7F800000, "uint32"),
             8: (0x7FF0000000000000, "uint64")}
# elements per thread at least before the check is split over threads: a buffer that fits the
# L3 cache is checked faster by one thread (measured: 2.6M float32, 0.14 ms on one thread,
# 0.17 ms on two, on a 2-core EPYC with 32 MiB of L3)
FINITE_BLOCK = 1 << 22


def _build_all_finite() -> Any:
    import numba

    @numba.njit(cache=True, nogil=True)
    def finite(bits, mask):  # pragma: no cover - compiled
        top = bits.dtype.type(0)
        for i in range(bits.shape[0]):  # integer max only: LLVM vectorizes the loop
            top = max(top, bits[i] & mask)
        return top != mask

    return finite


def _host_all_finite(a: Any) -> bool:
    """The NumPy form of ``all_finite``: one BLAS dot (reads once), confirmed element-wise
    only when the sum of squares is not finite (a NaN/Inf, or so large that it overflows)."""
    import math

    import numpy as np

    if a.dtype in (np.float32, np.float64) and a.ndim == 1:
        with np.errstate(over="ignore", invalid="ignore"):
            if math.isfinite(float(np.dot(a, a))):
                return True
    return bool(np.isfinite(a).all())


def all_finite(a: Any) -> bool:
    """Whether every element of the NumPy array ``a`` is finite (no NaN, +Inf or -Inf).

    With Numba, one pass over the raw bits of a contiguous float16/32/64 array (split over
    the CPU threads when large); otherwise a NumPy check with the same answer. Integer and
    boolean arrays are always finite.
    """
    return finite_check(a)()


def finite_check(a: Any) -> Callable[[], bool]:
    """``all_finite(a)`` as a function of no arguments, for a buffer checked at every step:
    the dtype, the layout and the Numba switch are looked at once, here."""
    import numpy as np

    kind = a.dtype.kind
    if kind in "biu":
        return lambda: True
    spec = _EXPONENT.get(a.dtype.itemsize) if kind == "f" else None
    if spec is None or not a.flags.c_contiguous or not numba_enabled():
        if kind != "f":
            return lambda: bool(np.isfinite(a).all())
        flat = a.reshape(-1) if a.flags.c_contiguous else a
        return lambda: _host_all_finite(flat)
    if "finite" not in _STATE:
        _STATE["finite"] = _build_all_finite()
    finite = _STATE["finite"]
    bits = a.reshape(-1).view(spec[1])
    mask = bits.dtype.type(spec[0])
    n = bits.shape[0]
    if n < 2 * FINITE_BLOCK:
        return lambda: bool(finite(bits, mask))
    from gpunet.backend import cpu_threads

    blocks = cpu_threads.row_blocks(n, min_rows=FINITE_BLOCK)
    parts = [bits[s] for s in blocks]
    return lambda: all(cpu_threads.run_blocks(lambda p: finite(p, mask), parts))
