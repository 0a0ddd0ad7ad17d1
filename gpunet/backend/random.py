"""Seeding: one host generator for initial weights, device generators for dropout/shuffles."""

from __future__ import annotations

import random as _pyrandom

import numpy as np

from gpunet.backend.philox import PhiloxStream

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

    A Philox4x32-10 stream keyed by the seed (``gpunet.backend.philox``): the same draws on
    the CPU and on a GPU, and its state is two integers.

    Args:
        seed: the stream's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.philox = PhiloxStream(self.seed)

    def uniform(self, b, shape: tuple, dtype) -> object:
        """Uniform [0, 1) samples of ``shape`` on backend ``b``, continuing this stream."""
        return self.philox.uniform(b, tuple(shape), dtype)

    def get_state(self) -> dict:
        """This stream's position, as a JSON-able dict (``{"philox": [k0, k1, counter]}``)."""
        return self.philox.get_state()

    def set_state(self, state: dict) -> None:
        """Puts the stream back where ``get_state`` found it; an empty state (a stream the
        backup did not hold) restarts it from ``seed``.

        Raises:
            ValueError: for a state in another format (a backup written before gpunet's
                streams were Philox streams), saying so.
        """
        if not state:
            self.philox = PhiloxStream(self.seed)
            return
        if "philox" not in state:
            raise ValueError(f"a random-stream state without a 'philox' entry ({sorted(state)}): "
                             "it was written by an older gpunet whose streams were not Philox "
                             "streams")
        self.philox.set_state(state)


def _rekey(rng) -> int:
    """A fresh seed drawn from a CuPy ``RandomState`` (one small device-to-host copy)."""
    return int(rng.randint(0, 2**32, size=1, dtype=np.int64)[0])


def generator_state(b) -> dict:
    """The state of backend ``b``'s own generators as a JSON-able dict: the shuffles' (NumPy's
    exact bit-generator state; on CuPy, where cuRAND cannot export its state, the generator is
    re-keyed: a seed is drawn from it, it restarts from that seed, and the seed is the state)
    and the Philox stream of unseeded dropout and noise (``"philox"``)."""
    if b.name == "numpy":
        out = {"bit_generator": b._rng.bit_generator.state}
    else:
        with b._device:
            seed = _rekey(b._generator())
        b._seed, b._rng = seed, None
        out = {"seed": seed}
    out.update(b.philox.get_state())
    return out


def set_generator_state(b, state: dict) -> None:
    """Puts backend ``b``'s generators back where ``generator_state`` found them."""
    if "philox" not in state:
        raise ValueError("a backend random state without a 'philox' entry: it was written by "
                         "an older gpunet whose dropout draws were not Philox streams")
    if b.name == "numpy":
        b._rng.bit_generator.state = state["bit_generator"]
    else:
        b._seed, b._rng = int(state["seed"]), None
    b.philox.set_state(state)


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
