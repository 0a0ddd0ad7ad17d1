"""Cache-blocked NumPy updates give exactly the whole-buffer result (uneven last block too)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet.backend import numpy_backend
from gpunet.backend.kernels import _blocking, adam_update, sgd_momentum_update


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(_blocking, "BLOCK", 7)


def _bufs(n=50, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random(n).astype(np.float32) for _ in range(k)]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_blocked_adam_equals_the_formula(small_blocks, amsgrad):
    w, g, m, v = _bufs()
    vh = np.full_like(w, 0.3) if amsgrad else None
    w0, m0, v0 = w.copy(), m.copy(), v.copy()
    a, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    adam_update(numpy_backend(), w, g, m, v, np.empty_like(w), a, b1, b2, eps, vh)
    m1 = m0 + (1 - b1) * (g - m0)
    v1 = v0 + (1 - b2) * (g * g - v0)
    den = np.maximum(0.3, v1) if amsgrad else v1
    np.testing.assert_allclose(m, m1, rtol=1e-6)
    np.testing.assert_allclose(v, v1, rtol=1e-6)
    np.testing.assert_allclose(w, w0 - a * m1 / (np.sqrt(den) + eps), rtol=1e-6)


@pytest.mark.parametrize("nesterov", [False, True])
def test_blocked_momentum_equals_the_formula(small_blocks, nesterov):
    w, g, v, _ = _bufs(seed=1)
    w0, v0 = w.copy(), v.copy()
    sgd_momentum_update(numpy_backend(), w, g, v, np.empty_like(w), 0.1, 0.9, nesterov)
    v1 = 0.9 * v0 - 0.1 * g
    np.testing.assert_allclose(v, v1, rtol=1e-6)
    want = w0 + 0.9 * v1 - 0.1 * g if nesterov else w0 + v1
    np.testing.assert_allclose(w, want, rtol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
                                  "Ftrl", "Lion", "AdamW"])
def test_every_numpy_update_is_the_same_blocked_or_not(monkeypatch, name):
    """Three steps of each optimizer over a 1000-element model: blocks of 7 elements (with an
    uneven tail) give the same weights as whole-buffer updates."""
    import gpunet
    from gpunet import Sequential, layers

    def run(block):
        monkeypatch.setattr(_blocking, "BLOCK", block)
        gpunet.utils.set_random_seed(0)
        m = Sequential([layers.Input((9,)), layers.Dense(100)])
        kw = {"weight_decay": 0.01} if name == "AdamW" else {}
        if name == "RMSprop":
            kw = {"momentum": 0.9, "centered": True}
        m.compile(optimizer=getattr(gpunet.optimizers, name)(learning_rate=0.01, **kw),
                  loss="mse")
        x = np.random.default_rng(1).random((8, 9)).astype("float32")
        for _ in range(3):
            m.train_on_batch(x, np.ones((8, 100), "float32"))
        return m.get_weights()

    for a, b in zip(run(1 << 30), run(7)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_blocked_adam_is_the_same_on_any_number_of_threads(small_blocks, monkeypatch, threads):
    """Even shares of a large update run on the CPU threads, each in slices: the result is
    the formula's on one thread or several (300 elements: 64-aligned shares, slices of 7)."""
    import threading

    seen = set()
    inner = _blocking.np.sqrt

    def spy(*a, **k):
        seen.add(threading.get_ident())
        return inner(*a, **k)

    monkeypatch.setenv("GPUNET_CPU_THREADS", threads)
    monkeypatch.setenv("GPUNET_NUMBA", "0")  # the NumPy passes (the spy sees their sqrt)
    monkeypatch.setattr(_blocking.np, "sqrt", spy)
    w, g, m, v = _bufs(n=300, seed=3)
    w0, m0, v0 = w.copy(), m.copy(), v.copy()
    adam_update(numpy_backend(), w, g, m, v, np.empty_like(w), 0.01, 0.9, 0.999, 1e-7)
    monkeypatch.undo()
    m1 = m0 + 0.1 * (g - m0)
    v1 = v0 + 0.001 * (g * g - v0)
    np.testing.assert_allclose(w, w0 - 0.01 * m1 / (np.sqrt(v1) + 1e-7), rtol=5e-6)
    w1, m2, v2 = w0.copy(), m0.copy(), v0.copy()  # one whole-buffer pass: the same bits
    adam_update(numpy_backend(), w1, g, m2, v2, np.empty_like(w), 0.01, 0.9, 0.999, 1e-7)
    np.testing.assert_array_equal(w, w1)
    assert (len(seen) >= 2) == (threads != "1")  # the caller's thread and a worker
