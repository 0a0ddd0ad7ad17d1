"""The Numba Adam kernel (``gpunet[numba]``) gives the NumPy path's bits, on whole buffers,
on cache-blocked threaded slices and over a few training steps of a model."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet.backend import numpy_backend
from gpunet.backend.kernels import _blocking, adam_update, numba_optim

pytest.importorskip("numba")


def _update(flag, dtype, monkeypatch, n=1000, seed=0):
    monkeypatch.setenv("GPUNET_NUMBA", flag)
    rng = np.random.default_rng(seed)
    w, g, m, v = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    v = np.abs(v)
    for t in range(1, 4):
        adam_update(numpy_backend(), w, g * t, m, v, np.empty_like(w), 0.01 / t, 0.9, 0.999,
                    1e-7)
    return w, m, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("block", [None, 7])
def test_numba_adam_equals_numpy_bit_for_bit(dtype, block, monkeypatch):
    if block:
        monkeypatch.setattr(_blocking, "BLOCK", block)
    want = _update("0", dtype, monkeypatch)
    got = _update("1", dtype, monkeypatch)
    assert numba_optim.adam_step(np.dtype(dtype)) is not None
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_numba_adam_is_off_without_numba_or_for_float16(monkeypatch):
    monkeypatch.setenv("GPUNET_NUMBA", "0")
    assert numba_optim.adam_step(np.dtype("float32")) is None
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    assert numba_optim.adam_step(np.dtype("float16")) is None


def test_model_trains_to_the_same_weights_with_numba_adam(monkeypatch):
    import gpunet
    from gpunet import Sequential, layers

    def run(flag):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        gpunet.utils.set_random_seed(0)
        model = Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                            layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        rng = np.random.default_rng(1)
        model.fit(rng.standard_normal((64, 6)), rng.standard_normal((64, 1)), batch_size=16,
                  epochs=2, verbose=0, shuffle=False)
        return model.get_weights()

    for a, b in zip(run("1"), run("0")):
        np.testing.assert_array_equal(a, b)
