"""Philox4x32-10, the counter-based generator of dropout masks and noise, on every backend.

A counter-based generator turns ``(key, counter)`` into random bits with no hidden state:
block ``j`` of a draw is ``philox4x32_10(counter = offset + j, key)``, four 32-bit words. The
same key and offset give the same bits on NumPy, on Numba's CPU threads and in a CUDA kernel,
so a seeded model draws the same dropout masks on the CPU and on a GPU, threads may fill
disjoint blocks of one draw, and a stream's whole state is its key and counter (what
``BackupAndRestore`` saves). It is cuRAND's Philox and the generator of PyTorch's CUDA dropout
(Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011); the tests hold
Random123's test vectors.

A draw of ``n`` values takes ``nb = ceil(n / 4)`` blocks and is planar: element ``i`` is word
``i // nb`` of block ``offset + i % nb`` (each block's words land in four contiguous runs, so
CPU loops vectorize and GPU writes coalesce), and the stream moves on by ``nb`` blocks. A
uniform float is ``(word >> 8) * 2**-24`` (every value exact in float32 and float64; float16
takes ``(word >> 21) * 2**-11``). Dropout keeps an element when
``word >> 8 >= ceil(rate * 2**24)``: the same test as ``uniform >= rate``, in integers.

The NumPy functions here are the reference. They run ten rounds of array operations, about
three times the cost of NumPy's own generator; with Numba (``gpunet[numba]``) the CPU draws
run compiled and vectorized instead (``gpunet.backend.kernels.numba_philox``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
_MASK = 0xFFFFFFFF


def split_seed(seed: int) -> tuple[int, int]:
    """The 64-bit key of a seed as two 32-bit words ``(k0, k1)``."""
    seed = int(seed) % 2**64
    return seed & _MASK, seed >> 32


def fresh_seed() -> int:
    """A 64-bit seed from the operating system's entropy (an unseeded stream's key)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])


def philox_blocks(start: int, n_blocks: int, key: tuple[int, int],
                  hi: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``(n_blocks, 4)`` uint32 words of blocks ``start .. start + n_blocks - 1`` (NumPy).

    Args:
        start: the first block's counter (its low 64 bits).
        n_blocks: how many blocks.
        key: the two key words.
        hi: the counter's two high words (0 for every draw of a stream).
    """
    idx = np.arange(n_blocks, dtype=np.uint64) + np.uint64(start)
    c0, c1 = idx & np.uint64(_MASK), idx >> np.uint64(32)
    c2 = np.full_like(idx, hi[0])
    c3 = np.full_like(idx, hi[1])
    k0, k1 = int(key[0]), int(key[1])
    m0, m1, s32, m32 = np.uint64(M0), np.uint64(M1), np.uint64(32), np.uint64(_MASK)
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & _MASK, (k1 + W1) & _MASK
        p0, p1 = c0 * m0, c2 * m1  # 32 x 32 -> 64 bits: no overflow in uint64
        c0, c1, c2, c3 = ((p1 >> s32) ^ c1 ^ np.uint64(k0), p1 & m32,
                          (p0 >> s32) ^ c3 ^ np.uint64(k1), p0 & m32)
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def words(start: int, n: int, key: tuple[int, int]) -> np.ndarray:
    """The ``n`` words of the draw that starts at block ``start`` (NumPy): planar, element
    ``i`` is word ``i // nb`` of block ``start + i % nb`` with ``nb = ceil(n / 4)``."""
    return philox_blocks(start, -(-n // 4), key).T.reshape(-1)[:n]


def keep_threshold(rate: float) -> int:
    """The 24-bit threshold of dropout: keep when ``word >> 8 >= keep_threshold(rate)``."""
    return int(math.ceil(float(rate) * 2**24))


def uniform_from_words(w: Any, dtype: Any) -> Any:
    """Uniform [0, 1) floats of ``dtype`` from uint32 words (NumPy or CuPy arrays)."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return ((w >> np.uint32(21)).astype(np.float32) * np.float32(2.0**-11)).astype(dtype)
    return (w >> np.uint32(8)).astype(dtype) * dtype.type(2.0**-24)


class PhiloxStream:
    """A stream of Philox blocks: a key and the next block's counter.

    Args:
        seed: the key (any integer; taken modulo 2**64).

    Example:

    >>> s = PhiloxStream(7)
    >>> u = s.uniform(gpunet.backend.numpy_backend(), (2, 3), "float32")
    >>> s.counter        # 2 blocks used: 6 values, 4 per block
    2
    """

    __slots__ = ("key", "_counter", "_device")

    def __init__(self, seed: int = 0) -> None:
        self.key = split_seed(seed)
        self._counter = 0
        self._device = None  # (backend, 0-d uint64 counter) while the stream draws there

    @property
    def counter(self) -> int:
        """The next block's counter (a host read when the stream draws on a device)."""
        self._to_host()
        return self._counter

    @counter.setter
    def counter(self, value: int) -> None:
        self._device = None
        self._counter = int(value) % 2**64

    def _to_host(self) -> None:
        if self._device is not None:
            b, ctr = self._device
            self._counter = int(b.to_numpy(ctr))
            self._device = None

    def take(self, n: int) -> int:
        """Reserves the blocks of ``n`` values; returns the first block's counter."""
        self._to_host()
        start = self._counter
        self._counter = (start + -(-int(n) // 4)) % 2**64
        return start

    def reserve(self, b: Any, n: int) -> Any:
        """The start of a draw of ``n`` values on backend ``b``: the counter as an int in host
        memory; on a device, a 0-d uint64 device array (a copy of the counter, which is then
        advanced on the device), so a step's kernel launches are the same from one step to
        the next, as a captured CUDA graph replays them, and nothing is read back."""
        if b.is_host:
            return self.take(n)
        if self._device is None or self._device[0] is not b:
            self._to_host()
            with b.activate():
                self._device = (b, b.xp.full((), self._counter, dtype=np.uint64))
        ctr = self._device[1]
        start = ctr.copy()
        b.xp.add(ctr, np.uint64(-(-int(n) // 4)), out=ctr)
        return start

    def uniform(self, b: Any, shape: tuple, dtype: Any = "float32") -> Any:
        """Uniform [0, 1) values of ``shape`` on backend ``b``."""
        shape = tuple(shape)
        start = self.reserve(b, int(np.prod(shape, dtype=np.int64)))
        return b.philox_uniform(start, self.key, shape, dtype)

    def get_state(self) -> dict:
        """``{"philox": [k0, k1, counter]}``: JSON-able (a host read on a device)."""
        return {"philox": [int(self.key[0]), int(self.key[1]), int(self.counter)]}

    def set_state(self, state: dict) -> None:
        k0, k1, counter = (int(v) for v in state["philox"])
        self.key = (k0 & _MASK, k1 & _MASK)
        self.counter = counter


class PhiloxOps:
    """A backend's Philox draws, written once on its array module ``xp``; a backend provides
    ``philox_words`` and may override the others with fused forms."""

    xp: Any = np  # the backends set their own array module

    def philox_words(self, start: Any, n: int, key: tuple[int, int]) -> Any:
        """The ``n`` uint32 words of the draw that starts at block ``start`` (an int, or on a
        device the 0-d counter array ``PhiloxStream.reserve`` gives)."""
        return words(start, n, key)

    def philox_uniform(self, start: Any, key: tuple[int, int], shape: tuple,
                       dtype: Any) -> Any:
        """Uniform [0, 1) values of ``shape`` and ``dtype`` (see the module doc)."""
        n = int(np.prod(shape, dtype=np.int64))
        return uniform_from_words(self.philox_words(start, n, key), dtype).reshape(shape)

    def philox_keep(self, start: int, key: tuple[int, int], shape: tuple, rate: float) -> Any:
        """Dropout's boolean keep mask of ``shape`` for ``rate``."""
        n = int(np.prod(shape, dtype=np.int64))
        w = self.philox_words(start, n, key)
        return ((w >> 8) >= keep_threshold(rate)).reshape(shape)

    def philox_dropout(self, x: Any, start: int, key: tuple[int, int],
                       rate: float) -> tuple[Any, Any]:
        """``(where(keep, x / (1 - rate), 0), keep)`` with a keep mask of ``x``'s shape, as
        Keras's dropout (dropped entries are 0 even where ``x`` is not finite)."""
        keep = self.philox_keep(start, key, x.shape, rate)
        return self.xp.where(keep, x / x.dtype.type(1.0 - rate), 0), keep

    def dropout_grad(self, gy: Any, keep: Any, rate: float) -> Any:
        """The gradient of ``philox_dropout``: ``where(keep, gy / (1 - rate), 0)``."""
        return self.xp.where(keep, gy / gy.dtype.type(1.0 - rate), 0)
