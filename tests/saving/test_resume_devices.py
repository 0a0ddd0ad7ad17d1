"""Exact resume after load_model, and checkpoints that do not depend on the device."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.backend import backend_for, device, has_gpu
from gpunet.optimizers import SGD, Adam
from gpunet.utils import set_random_seed


def _optimizers():
    return [pytest.param(lambda: Adam(0.01), id="adam"),
            pytest.param(lambda: SGD(0.05, momentum=0.9), id="sgd_momentum"),
            pytest.param(lambda: SGD(gpunet.optimizers.schedules.ExponentialDecay(
                0.1, decay_steps=3, decay_rate=0.5), momentum=0.5, nesterov=True),
                id="sgd_nesterov_schedule")]


def _make(opt):
    set_random_seed(1)
    m = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                    layers.Dense(3, activation="softmax")])
    m.compile(optimizer=opt(), loss="sparse_categorical_crossentropy")
    return m


@pytest.mark.parametrize("opt", _optimizers())
def test_exact_resume(tmp_path, backend, data, opt):
    x, y = data
    kw = {"batch_size": 16, "shuffle": False, "verbose": 0}
    full = _make(opt)
    full.fit(x, y, epochs=5, **kw)
    part = _make(opt)
    part.fit(x, y, epochs=2, **kw)
    part.save(tmp_path / "ckpt.h5")
    del part
    resumed = gpunet.models.load_model(tmp_path / "ckpt.h5")
    assert resumed.optimizer.iterations == 8
    resumed.fit(x, y, epochs=3, **kw)
    assert resumed.optimizer.iterations == full.optimizer.iterations == 20
    for a, b in zip(resumed.get_weights(), full.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_file_holds_float32_host_arrays_and_loads_on_cpu(tmp_path, mlp, data):
    model = mlp()
    model.fit(*data, epochs=1, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f["model_weights/dense/dense/kernel:0"].dtype == np.float32
    with device("cpu"):
        loaded = gpunet.models.load_model(tmp_path / "m.h5")
    assert loaded.backend.name == "numpy"
    same = (np.testing.assert_array_equal if model.backend.name == "numpy"
            else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7))
    same(loaded.predict(data[0], verbose=0), model.predict(data[0], verbose=0))


@pytest.mark.gpu
@pytest.mark.parametrize("src,dst", [("gpu", "cpu"), ("cpu", "gpu")])
def test_checkpoint_moves_between_devices(tmp_path, data, src, dst):
    if not has_gpu():
        pytest.skip("needs a GPU")
    x, y = data
    kw = {"batch_size": 16, "shuffle": False, "verbose": 0}
    with device(src):
        model = _make(lambda: Adam(0.01))
        model.fit(x, y, epochs=2, **kw)
        model.save(tmp_path / "m.h5")
        model.save_weights(tmp_path / "w.weights.h5")
        expected = model.predict(x, verbose=0)
        slots = [a for _, a in model.optimizer.get_slot_arrays()]
    with device(dst):
        loaded = gpunet.models.load_model(tmp_path / "m.h5")
        fresh = _make(lambda: Adam(0.01))
        fresh.load_weights(tmp_path / "w.weights.h5")
    assert loaded.backend is backend_for(dst) and fresh.backend is backend_for(dst)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    for a, (_, b) in zip(slots, loaded.optimizer.get_slot_arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    loaded.fit(x, y, epochs=1, **kw)
