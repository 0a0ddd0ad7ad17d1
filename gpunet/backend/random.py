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
        self._seeds: dict = {}  # per device: the seed a re-keyed (CuPy) stream restarts from
        self._devices: dict = {}  # per device: the CuPy device context its generator lives in

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
                rng = self._rngs[key] = b.xp.random.RandomState(self._seeds.get(key, self.seed))
                self._devices[key] = b._device
            return rng.random_sample(shape, dtype=np.dtype(dtype))

    def get_state(self) -> dict:
        """This stream's position on every device it has drawn on, as a JSON-able dict.

        NumPy streams report their exact bit-generator state. cuRAND cannot export its
        state, so a CuPy stream is re-keyed: a seed is drawn from it, the stream restarts
        from that seed, and the seed is the state (the draws that follow are the same
        whether the run goes on or resumes from the state).
        """
        out = {}
        for key in sorted(set(self._rngs) | set(self._seeds), key=str):
            name, device = key
            rng = self._rngs.get(key)
            if name == "numpy":
                out[f"{name}|{device}"] = {"bit_generator": rng.bit_generator.state}
                continue
            if rng is not None:
                with self._devices[key]:
                    self._seeds[key] = _rekey(rng)
                del self._rngs[key]
            out[f"{name}|{device}"] = {"seed": self._seeds[key]}
        return out

    def set_state(self, state: dict) -> None:
        """Puts the stream back where ``get_state`` found it (devices absent from ``state``
        restart from ``seed``)."""
        rngs, seeds = {}, {}
        for k, v in state.items():
            name, _, device = k.partition("|")
            key = (name, None if device == "None" else device)
            if name == "numpy":
                rngs[key] = np.random.default_rng(self.seed)
                rngs[key].bit_generator.state = v["bit_generator"]
            else:
                seeds[key] = int(v["seed"])
        self._rngs, self._seeds = rngs, seeds


def _rekey(rng) -> int:
    """A fresh seed drawn from a CuPy ``RandomState`` (one small device-to-host copy)."""
    return int(rng.randint(0, 2**32, size=1, dtype=np.int64)[0])


def generator_state(b) -> dict:
    """The state of backend ``b``'s own generator (shuffles, unseeded dropout) as a JSON-able
    dict: NumPy's exact bit-generator state; on CuPy the generator is re-keyed (see
    ``SeedStream.get_state``)."""
    if b.name == "numpy":
        return {"bit_generator": b._rng.bit_generator.state}
    with b._device:
        seed = _rekey(b._generator())
    b.seed(seed)
    return {"seed": seed}


def set_generator_state(b, state: dict) -> None:
    """Puts backend ``b``'s generator back where ``generator_state`` found it."""
    if b.name == "numpy":
        b._rng.bit_generator.state = state["bit_generator"]
    else:
        b.seed(int(state["seed"]))


def host_state() -> dict:
    """The host generator's and NumPy's global generator's states, as a JSON-able dict."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"host": _host.bit_generator.state,
            "numpy_global": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}


def set_host_state(state: dict) -> None:
    """Puts the host generator and NumPy's global generator back where ``host_state`` found
    them."""
    kind, keys, pos, has_gauss, gauss = state["numpy_global"]
    _host.bit_generator.state = state["host"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
