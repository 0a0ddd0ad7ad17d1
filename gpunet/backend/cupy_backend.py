"""The CuPy backend: arrays on an NVIDIA GPU.

``cupy`` is imported only when this backend is created, never at ``import gpunet``.
Kernel objects are built lazily (construction needs no GPU; compilation happens at the
first call and is cached under ``~/.cupy/kernel_cache``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import tf32
from gpunet.backend.base import Array, Backend
from gpunet.backend.cupy_routines import CupyRoutines
from gpunet.backend.kernels._spec import launch
from gpunet.backend.kernels.nn import RELU_GRAD
from gpunet.backend.kernels.philox_cuda import PHILOX_WORDS, PHILOX_WORDS_DEV
from gpunet.backend.philox import PhiloxStream, fresh_seed


class CupyBackend(CupyRoutines, Backend):
    """Backend running on a CUDA device through CuPy (its device routines: ``CupyRoutines``).

    Args:
        device_id: the CUDA device ordinal.
    """

    name = "cupy"

    def __init__(self, device_id: int = 0) -> None:
        import cupy

        self.xp = cupy
        self.device_id = int(device_id)
        self.device = f"gpu:{self.device_id}"
        self._device = cupy.cuda.Device(self.device_id)
        self._seed: int | None = None
        self._rng = None
        self.philox = PhiloxStream(fresh_seed())  # dropout and noise draws (Philox4x32-10)
        self._kernels: dict[str, Any] = {}
        tf32.apply()  # float32 products on the tensor cores only when asked

    def __enter__(self):
        return self._device.__enter__()

    def __exit__(self, *exc):
        return self._device.__exit__(*exc)

    def activate(self) -> Any:
        """Makes this GPU the current CUDA device inside the ``with`` block."""
        return self._device

    def asarray(self, x: Any, dtype: Any = None) -> Array:
        with self._device:
            return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, self.xp.ndarray):
            return x.get()
        return np.asarray(x)

    def synchronize(self) -> None:
        self._device.synchronize()

    def free_memory(self) -> None:
        with self._device:
            self.xp.get_default_memory_pool().free_all_blocks()
            self.xp.get_default_pinned_memory_pool().free_all_blocks()

    # The legacy RandomState (cuRAND) draws the shuffles; dropout and noise use ``philox``.
    def _generator(self):
        if self._rng is None:
            with self._device:
                self._rng = self.xp.random.RandomState(self._seed)
        return self._rng

    def seed(self, seed: int | None) -> None:
        self._seed = seed
        self._rng = None
        self.philox = PhiloxStream(fresh_seed() if seed is None else seed)

    def random_uniform(self, shape: tuple, dtype: Any = "float32") -> Array:
        return self.philox.uniform(self, shape, dtype)

    def permutation(self, n: int) -> Array:
        with self._device:
            return self._generator().permutation(n)

    def philox_words(self, start: int, n: int, key: tuple) -> Array:
        nb = -(-int(n) // 4)
        with self._device:
            w = self.xp.empty(int(n), dtype=self.xp.uint32)
            if nb and isinstance(start, self.xp.ndarray):  # the counter in device memory
                launch(self, PHILOX_WORDS_DEV, start, np.uint32(key[0]), np.uint32(key[1]),
                       np.int64(nb), np.int64(n), w, size=nb)
            elif nb:
                launch(self, PHILOX_WORDS, np.uint64(start), np.uint32(key[0]),
                       np.uint32(key[1]), np.int64(nb), np.int64(n), w, size=nb)
            return w

    def kernel(self, name: str, factory) -> Any:
        """Returns the cached kernel ``name``, building it with ``factory(cupy)`` once."""
        k = self._kernels.get(name)
        if k is None:
            k = self._kernels[name] = factory(self.xp)
        return k

    def relu_grad(self, gy: Array, y: Array) -> Array:
        return launch(self, RELU_GRAD, gy, y)
