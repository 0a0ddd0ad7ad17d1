"""Device placement: seeding, model.to(), and CPU/GPU agreement (GPU parts marked `gpu`)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, backend, layers, optimizers


def build(seed=7):
    gpunet.layers.clear_session()
    gpunet.utils.set_random_seed(seed)
    m = Sequential([layers.Input((6,)), layers.Dense(5, activation="relu"), layers.Dense(3)])
    m.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    return m


def data():
    r = np.random.default_rng(0)
    return r.random((32, 6)).astype("float32"), r.random((32, 3)).astype("float32")


def test_same_seed_same_initial_weights():
    a, b = build(), build()
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = build(seed=8)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_device_context_places_weights():
    with backend.device("cpu") as b:
        m = build()
        assert m.backend is b and all(isinstance(w.data, np.ndarray) for w in m.weights)


def test_to_same_device_is_a_no_op_and_training_continues():
    x, y = data()
    m = build()
    m.fit(x, y, epochs=1, shuffle=False, verbose=0)
    before = m.get_weights()
    assert m.to("cpu") is m
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.fit(x, y, epochs=1, shuffle=False, verbose=0)


def test_weights_are_views_into_one_flat_buffer():
    x, y = data()
    m = build()
    m.fit(x, y, epochs=1, verbose=0)
    groups = m._groups
    assert len(groups) == 1
    flat = groups[0].data
    assert flat.size == m.count_params()
    for w in m.trainable_weights:
        assert np.shares_memory(w.data, flat)
        assert np.shares_memory(w.grad, groups[0].grad)


@pytest.mark.gpu
def test_cpu_and_gpu_start_identical_and_train_alike():
    x, y = data()
    with backend.device("cpu"):
        cpu = build()
    with backend.device("gpu"):
        gpu = build()
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_array_equal(a, b)
    cpu.fit(x, y, epochs=3, shuffle=False, verbose=0)
    gpu.fit(x, y, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_model_to_moves_weights_and_optimizer_state():
    x, y = data()
    ref, moved = build(), build()
    ref.fit(x, y, epochs=2, shuffle=False, verbose=0)
    moved.fit(x, y, epochs=1, shuffle=False, verbose=0)
    moved.to("gpu")
    assert moved.backend.name == "cupy"
    moved.fit(x, y, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), moved.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
