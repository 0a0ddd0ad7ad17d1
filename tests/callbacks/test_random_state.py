"""The random state a backup saves: backend generators, layer streams and host generators
are put back exactly, through JSON, and a model's streams are found by position."""

from __future__ import annotations

import json
import types

import numpy as np

import gpunet
from gpunet.backend import random as grandom
from gpunet.backend.philox import PhiloxStream
from gpunet.backend.philox import words as philox_words
from gpunet.callbacks._training_state import _streams, random_state, set_random_state


def through_json(state):
    return json.loads(json.dumps(state))


def test_backend_generator_state_round_trip(backend):
    state = through_json(grandom.generator_state(backend))
    a = backend.to_numpy(backend.random_uniform((5,), "float64"))
    p = backend.to_numpy(backend.permutation(9))
    backend.random_uniform((100,))  # move on
    grandom.set_generator_state(backend, state)
    np.testing.assert_array_equal(backend.to_numpy(backend.random_uniform((5,), "float64")), a)
    np.testing.assert_array_equal(backend.to_numpy(backend.permutation(9)), p)


def test_seed_stream_state_round_trip(backend):
    s = grandom.SeedStream(11)
    first = backend.to_numpy(s.uniform(backend, (3,), "float32"))
    state = through_json(s.get_state())
    after = backend.to_numpy(s.uniform(backend, (4,), "float32"))
    # a fresh stream (a new process) put at that state continues identically
    t = grandom.SeedStream(11)
    t.set_state(state)
    np.testing.assert_array_equal(backend.to_numpy(t.uniform(backend, (4,), "float32")), after)
    # an empty state is the stream's start
    t.set_state({})
    np.testing.assert_array_equal(backend.to_numpy(t.uniform(backend, (3,), "float32")), first)


def test_host_and_numpy_global_state_round_trip():
    state = through_json(grandom.host_state())
    a, b = grandom.host_rng().normal(size=3), np.random.permutation(7)
    np.random.rand(50)
    grandom.host_rng().random(50)
    grandom.set_host_state(state)
    np.testing.assert_array_equal(grandom.host_rng().normal(size=3), a)
    np.testing.assert_array_equal(np.random.permutation(7), b)


class _FakeDeviceBackend:
    """Stands in for gpunet's CuPy backend: the real ``CupyBackend`` methods over an array
    module whose ``random.RandomState`` is NumPy's legacy one (CuPy's has the same API and,
    like cuRAND, cannot export its state), so the re-keying logic runs without a GPU."""

    @staticmethod
    def make():
        from gpunet.backend.cupy_backend import CupyBackend

        b = CupyBackend.__new__(CupyBackend)
        b.xp = types.SimpleNamespace(random=types.SimpleNamespace(RandomState=_RandomState),
                                     full=np.full, add=np.add,
                                     ndarray=type("NoArray", (), {}))  # host arrays here
        b.device_id, b.device = 0, "gpu:0"
        b._device = _Null()
        b._seed, b._rng, b._kernels = 5, None, {}
        b.philox = PhiloxStream(5)
        # Philox draws through the NumPy reference instead of the CUDA kernel (same bits)
        b.philox_words = lambda start, n, key: philox_words(start, n, key)
        return b


class _RandomState(np.random.RandomState):
    def random_sample(self, size=None, dtype=np.float64):  # CuPy's signature
        return super().random_sample(size).astype(dtype)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_device_generators_are_rekeyed_so_run_and_resume_agree():
    run = _FakeDeviceBackend.make()
    run.random_uniform((7,))  # some draws before the checkpoint
    stream = grandom.SeedStream(3)
    stream.uniform(run, (2,), "float64")
    g_state = through_json(grandom.generator_state(run))
    s_state = through_json(stream.get_state())
    assert set(g_state) == {"seed", "philox"} and list(s_state) == ["philox"]
    go_on = (run.random_uniform((4,)), run.permutation(6), stream.uniform(run, (3,), "float64"))

    resumed = _FakeDeviceBackend.make()
    resumed.seed(1234)  # a new process with another seed
    grandom.set_generator_state(resumed, g_state)
    other = grandom.SeedStream(3)
    other.set_state(s_state)
    again = (resumed.random_uniform((4,)), resumed.permutation(6),
             other.uniform(resumed, (3,), "float64"))
    for a, b in zip(go_on, again):
        np.testing.assert_array_equal(a, b)


def model():
    return gpunet.Sequential([
        gpunet.Input((5, 3)),
        gpunet.layers.RNN(gpunet.layers.LSTMCell(4, dropout=0.2, seed=1),
                          return_sequences=True),
        gpunet.layers.Flatten(),
        gpunet.layers.Dropout(0.5, seed=2),
        gpunet.layers.Dense(2),
    ])


def test_streams_are_found_by_position_and_restored(backend):
    m = model()
    keys = sorted(_streams(m))
    assert keys == sorted(_streams(model()))  # the same positions in a rebuilt model
    assert len(keys) == 2 and all(k.endswith("/_stream") for k in keys)  # cell, Dropout
    x = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")
    m(x, training=True)
    state = through_json(random_state(m))
    out = m(x, training=True).data
    fresh = model()
    fresh.set_weights(m.get_weights())
    set_random_state(fresh, state, "test")
    np.testing.assert_array_equal(backend.to_numpy(fresh(x, training=True).data),
                                  backend.to_numpy(out))
