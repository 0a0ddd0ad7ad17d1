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
