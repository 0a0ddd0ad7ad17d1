"""Seeding: one host generator for initial weights, device generators for dropout/shuffles."""

from __future__ import annotations

import random as _pyrandom

import numpy as np

_host = np.random.default_rng()


def host_rng() -> np.random.Generator:
    """The host generator every unseeded initializer draws from."""
    return _host


def set_seed(seed: int) -> None:
    """Seeds Python's ``random``, NumPy's global RNG, the host generator and every backend.

    Initial weights are drawn on the host and then copied to the device, so one seed gives
    the same initial weights on the CPU and on a GPU.
    """
    global _host
    seed = int(seed)
    _pyrandom.seed(seed)
    np.random.seed(seed % 2**32)
    _host = np.random.default_rng(seed)
    from gpunet import backend as _b

    _b.numpy_backend().seed(seed + 1)
    for b in _b._CUPY.values():
        b.seed(seed + 1)
    _b._device_seed = seed + 1


class SeedStream:
    """A layer's own random stream (Keras 3's ``SeedGenerator``): ``Dropout(seed=s)`` draws
    the same masks, call after call, whatever the global seed, on the backend of the data.

    Args:
        seed: the stream's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._rngs: dict = {}

    def uniform(self, b, shape: tuple, dtype) -> object:
        """Uniform [0, 1) samples of ``shape`` on backend ``b``, continuing this stream."""
        key = (b.name, getattr(b, "device", None))
        rng = self._rngs.get(key)
        if b.name == "numpy":
            if rng is None:
                rng = self._rngs[key] = np.random.default_rng(self.seed)
            return rng.random(shape, dtype=np.dtype(dtype))
        with b._device:
            if rng is None:
                rng = self._rngs[key] = b.xp.random.RandomState(self.seed)
            return rng.random_sample(shape, dtype=np.dtype(dtype))
