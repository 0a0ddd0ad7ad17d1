"""Philox4x32-10 on the CPU with Numba: the words of a draw, and dropout.

The same bits as ``gpunet.backend.philox`` (the NumPy reference the tests compare with). A
draw of ``n`` values over ``nb = ceil(n / 4)`` blocks is planar: element ``i`` is word
``i // nb`` of block ``start + i % nb``, so each block's four words land in four contiguous
runs and the loop over blocks vectorizes (about 0.5 ns a value on one core). Dropout's
forward makes the words, then writes ``x / keep_prob`` or 0 and a uint8 keep mask in one pass
over them (one loop doing both ran 6x slower: it does not vectorize); its backward reads the
mask once. Draws of ``PARALLEL_SIZE`` values or more split their blocks over the cores.
Without Numba (or with ``GPUNET_NUMBA=0``) the callers use the NumPy path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.kernels.numba_cpu import _LAUNCH, _float_ok, compiled

# From this many values on, the draw is split over the cores (below, starting Numba's
# threads costs more than the arithmetic: ~0.5 ns a value on one core).
PARALLEL_SIZE = 1 << 20


_U64, _U32 = np.uint64, np.uint32
_M32, _S32 = np.uint64(0xFFFFFFFF), np.uint64(32)

# The kernels are plain functions that ``_build`` compiles (Numba is optional). The entry
# points reach the inlined helpers through these module globals rather than closures: Numba's
# disk cache misses, and so recompiles in every process, a function that closes over another
# compiled function.
_PRANGE: Any = range  # numba.prange once built
_J_BLOCK: Any = None
_J_WORDS_PLANES: Any = None
_J_WORDS_RANGE: Any = None
_J_DROP_WORDS: Any = None
_J_GRAD_RANGE: Any = None


def _block(ctr, ks):  # pragma: no cover - compiled
    c0, c1, c2, c3 = _U32(ctr & _M32), _U32(ctr >> _S32), _U32(0), _U32(0)
    for r in range(10):
        p0 = _U64(c0) * _U64(0xD2511F53)
        p1 = _U64(c2) * _U64(0xCD9E8D57)
        c0, c1, c2, c3 = (_U32(p1 >> _S32) ^ c1 ^ ks[r, 0], _U32(p1 & _M32),
                          _U32(p0 >> _S32) ^ c3 ^ ks[r, 1], _U32(p0 & _M32))
    return c0, c1, c2, c3


# The loops index planes (views) from 0: an index that may be negative makes Numba add
# its wraparound test, which stops LLVM from vectorizing the loop (about 7x slower).
def _words_planes(w0, w1, w2, w3, start, ks):  # pragma: no cover - compiled
    m3 = w3.size
    for j in range(m3):
        c0, c1, c2, c3 = _J_BLOCK(_U64(start) + _U64(j), ks)
        w0[j] = c0
        w1[j] = c1
        w2[j] = c2
        w3[j] = c3
    for j in range(m3, w0.size):  # the blocks whose last words are past the draw
        c0, c1, c2, c3 = _J_BLOCK(_U64(start) + _U64(j), ks)
        w0[j] = c0
        if j < w1.size:
            w1[j] = c1
        if j < w2.size:
            w2[j] = c2


def _words_range(w, start, ks, nb, lo, hi):  # pragma: no cover - compiled
    _J_WORDS_PLANES(w[lo:hi], w[nb + lo:nb + hi], w[2 * nb + lo:2 * nb + hi],
                    w[3 * nb + lo:3 * nb + hi], _U64(start) + _U64(lo), ks)


def _drop_words(x, y, mask, w, t32, kp):  # pragma: no cover - compiled
    # one pass over the words made by _words_range (fusing the two stops LLVM from
    # vectorizing either: measured 6x slower)
    zero = y.dtype.type(0)
    for i in range(x.size):
        keep = (w[i] >> _U32(8)) >= t32
        mask[i] = keep
        y[i] = x[i] / kp if keep else zero


def _grad_range(gy, mask, gx, kp):  # pragma: no cover - compiled
    zero = gx.dtype.type(0)
    for i in range(gy.size):
        gx[i] = gy[i] / kp if mask[i] else zero


def _words_serial(w, start, ks, nb):  # pragma: no cover - compiled
    _J_WORDS_RANGE(w, start, ks, nb, 0, nb)


def _words_parallel(chunks, w, start, ks, nb):  # pragma: no cover - compiled
    size = (nb + chunks - 1) // chunks
    for t in _PRANGE(chunks):
        hi = (t + 1) * size
        _J_WORDS_RANGE(w, start, ks, nb, t * size, nb if hi > nb else hi)


def _drop_serial(x, y, mask, w, start, ks, nb, t32, kp):  # pragma: no cover - compiled
    _J_WORDS_RANGE(w, start, ks, nb, 0, nb)
    _J_DROP_WORDS(x, y, mask, w, t32, kp)


def _drop_parallel(chunks, x, y, mask, w, start, ks, nb, t32, kp):  # pragma: no cover
    size = (nb + chunks - 1) // chunks
    for t in _PRANGE(chunks):
        hi = (t + 1) * size
        _J_WORDS_RANGE(w, start, ks, nb, t * size, nb if hi > nb else hi)
    n = x.size
    size = (n + chunks - 1) // chunks
    for t in _PRANGE(chunks):
        lo = t * size
        hi = lo + size if lo + size < n else n
        _J_DROP_WORDS(x[lo:hi], y[lo:hi], mask[lo:hi], w[lo:hi], t32, kp)


def _grad_serial(gy, mask, gx, kp):  # pragma: no cover - compiled
    _J_GRAD_RANGE(gy, mask, gx, kp)


def _grad_parallel(chunks, gy, mask, gx, kp):  # pragma: no cover - compiled
    n = gy.size
    size = (n + chunks - 1) // chunks
    for t in _PRANGE(chunks):
        lo = t * size
        hi = lo + size if lo + size < n else n
        _J_GRAD_RANGE(gy[lo:hi], mask[lo:hi], gx[lo:hi], kp)


def _build() -> dict:
    import numba

    g = globals()
    g["_PRANGE"] = numba.prange
    inline = numba.njit(inline="always", nogil=True)
    for name in ("block", "words_planes", "words_range", "drop_words", "grad_range"):
        g["_J_" + name.upper()] = inline(g["_" + name])
    par = numba.njit(parallel=True, cache=True, nogil=True)
    ser = numba.njit(cache=True, nogil=True)
    return {"words": (ser(_words_serial), par(_words_parallel)),
            "dropout": (ser(_drop_serial), par(_drop_parallel)),
            "grad": (ser(_grad_serial), par(_grad_parallel))}


def key_schedule(key: tuple[int, int]) -> np.ndarray:
    """The ten round keys ``(k0, k1)`` of Philox4x32-10, as a (10, 2) uint32 array."""
    ks = np.empty((10, 2), np.uint32)
    k0, k1 = int(key[0]), int(key[1])
    for r in range(10):
        ks[r] = k0, k1
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return ks


def _kernels() -> dict | None:
    return compiled("philox", _build)


def _run(name: str, n: int, *args: Any) -> None:
    serial, parallel = _kernels()[name]
    if n >= PARALLEL_SIZE:
        from gpunet.backend import cpu_threads

        with _LAUNCH:
            parallel(max(1, cpu_threads.cpu_threads()), *args)
    else:
        serial(*args)


def words(start: int, n: int, key: tuple[int, int]) -> np.ndarray | None:
    """The ``n`` words of the draw at block ``start`` (as ``philox.words``), or None."""
    if n <= 0 or _kernels() is None:
        return None
    w = np.empty(n, np.uint32)
    _run("words", n, w, np.uint64(start), key_schedule(key), -(-n // 4))
    return w


def dropout(x: np.ndarray, start: int, key: tuple[int, int], thresh: int,
            keep_prob: Any) -> tuple | None:
    """``(y, mask)`` of Philox dropout of a contiguous float32/float64 ``x`` (``y = x /
    keep_prob`` where kept, else 0; ``mask`` uint8), or None (use NumPy)."""
    n = x.size
    if not (n and x.flags.c_contiguous and _float_ok(x.dtype)) or _kernels() is None:
        return None
    y = np.empty_like(x)
    mask = np.empty(x.shape, np.uint8)
    _run("dropout", n, x.reshape(-1), y.reshape(-1), mask.reshape(-1), np.empty(n, np.uint32),
         np.uint64(start), key_schedule(key), -(-n // 4), np.uint32(thresh), keep_prob)
    return y, mask


def dropout_grad(gy: np.ndarray, mask: np.ndarray, keep_prob: Any) -> np.ndarray | None:
    """``gy / keep_prob`` where ``mask`` (uint8) is set, else 0; None without Numba."""
    if not (gy.size and gy.flags.c_contiguous and gy.shape == mask.shape
            and _float_ok(gy.dtype)) or _kernels() is None:
        return None
    gx = np.empty_like(gy)
    _run("grad", gy.size, gy.reshape(-1), mask.reshape(-1), gx.reshape(-1), keep_prob)
    return gx
