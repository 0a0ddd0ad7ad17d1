"""A training step whose loss or new weights are not finite is undone (weights, optimizer
slots and BatchNormalization statistics kept); training goes on as in Keras 3, the loss log
shows the non-finite value, a warning counts the skipped steps (silent with verbose=0), and
checkpoints never hold non-finite weights."""

import os
import warnings

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.callbacks import Callback, ModelCheckpoint, TerminateOnNaN
from gpunet.models import finite_guard


class _MaskedNumpy:
    """NumPy arrays driven through the guard's GPU path (flags never read, masked copies)."""

    name = "masked"
    is_host = False
    xp = np

    @staticmethod
    def asarray(a):
        return np.asarray(a)

    @staticmethod
    def to_numpy(a):
        return np.asarray(a)


@pytest.fixture(params=["host", "masked"])
def guard_path(request, monkeypatch):
    """Runs a test with the guard's NumPy path and with its GPU (no host read) path."""
    if request.param == "masked":
        real = finite_guard.backend_of

        def fake(a):
            return _MaskedNumpy if real(a).name == "numpy" else real(a)

        monkeypatch.setattr(finite_guard, "backend_of", fake)
    return request.param


def _dense(backend, optimizer, units=1, inputs=3, act=None):
    with gpunet.backend.device(backend.name if backend.name == "numpy" else "gpu"):
        m = gpunet.Sequential([layers.Input((inputs,)), layers.Dense(units, activation=act)])
    m.compile(optimizer=optimizer, loss="mse")
    return m


def _finite(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())


def test_update_that_overflows_is_skipped_with_a_finite_loss(backend, guard_path):
    # w = b = 0, x = 1, y = 10: loss 100 (finite), d loss / d b = -20, and SGD with
    # lr = 1e38 gives b = 2e39, which overflows float32: every step is undone.
    m = _dense(backend, gpunet.optimizers.SGD(1e38))
    m.set_weights([np.zeros((3, 1), "float32"), np.zeros(1, "float32")])
    x = np.ones((8, 3), "float32")
    y = np.full((8, 1), 10.0, "float32")
    with pytest.warns(RuntimeWarning, match="Epoch 1: 4 training step"):
        h = m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=2)
    assert h.history["loss"] == [100.0]  # the loss of the attempted steps is logged
    for w in m.get_weights():
        np.testing.assert_array_equal(w, 0.0)
    assert m.optimizer.iterations == 4  # every attempted step counts, as in Keras


def test_nan_batch_is_skipped_and_training_goes_on(backend, guard_path):
    # Plain SGD: skipping batch 2 must equal training on the other three batches.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    w0 = [rng.normal(size=(3, 1)).astype("float32"), np.zeros(1, "float32")]
    bad = x.copy()
    bad[4] = np.nan
    m = _dense(backend, gpunet.optimizers.SGD(0.1))
    m.set_weights(w0)
    logs = []

    class Log(Callback):
        def on_train_batch_end(self, batch, logs_=None):
            logs.append(dict(logs_))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verbose=0: no warning
        h = m.fit(bad, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=Log())
    ref = _dense(backend, gpunet.optimizers.SGD(0.1))
    ref.set_weights(w0)
    keep = np.r_[0:4, 6:8]
    ref.fit(x[keep], y[keep], batch_size=2, epochs=1, shuffle=False, verbose=0)
    for got, exp in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-7)
    assert [np.isfinite(b["loss"]) for b in logs] == [True, True, False, False]
    assert np.isnan(h.history["loss"][0])  # the epoch mean includes the NaN batch, as Keras
    assert not m.stop_training


def test_skipped_step_keeps_adam_slots_and_batchnorm_statistics(backend, guard_path):
    with gpunet.backend.device(backend.name if backend.name == "numpy" else "gpu"):
        m = gpunet.Sequential([layers.Input((3,)), layers.BatchNormalization(),
                               layers.Dense(2)])
    m.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3)).astype("float32")
    y = rng.normal(size=(4, 2)).astype("float32")
    m.train_on_batch(x, y)
    weights = m.get_weights()
    slots = [a.copy() for _, a in m.optimizer.get_slot_arrays()]
    x[1, 2] = np.inf
    loss = m.train_on_batch(x, y)
    assert not np.isfinite(loss)
    for got, exp in zip(m.get_weights(), weights):  # moving mean/variance included
        np.testing.assert_array_equal(got, exp)
    for (_, got), exp in zip(m.optimizer.get_slot_arrays(), slots):
        np.testing.assert_array_equal(got, exp)


def test_checkpoints_never_hold_non_finite_weights(backend, guard_path, tmp_path):
    # Adam at lr=1e4 on a ReLU network whose targets are huge: the loss and gradients
    # overflow after a few steps; every checkpoint stays finite.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32") * 1e3
    y = np.full((64, 1), 3e19, "float32")
    with gpunet.backend.device(backend.name if backend.name == "numpy" else "gpu"):
        m = gpunet.Sequential([layers.Input((4,)), layers.Dense(16, activation="relu"),
                               layers.Dense(1)])
    m.compile(optimizer=gpunet.optimizers.Adam(1e4), loss="mse")
    with np.errstate(all="ignore"):
        h = m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
            ModelCheckpoint(str(tmp_path / "ck{epoch}.h5")),
            ModelCheckpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True)])
    assert not all(np.isfinite(v) for v in h.history["loss"])  # the case was provoked
    assert _finite(m)
    files = sorted(os.listdir(tmp_path))
    assert "ck3.h5" in files
    for f in files:
        assert _finite(gpunet.models.load_model(str(tmp_path / f)))


def test_terminate_on_nan_stops_at_the_skipped_batch(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    x[4] = np.nan
    y = rng.normal(size=(8, 1)).astype("float32")
    m = _dense(backend, gpunet.optimizers.SGD(0.1))
    h = m.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0,
              callbacks=[TerminateOnNaN()])
    assert m.stop_training and h.epoch == [0] and _finite(m)
