"""Optimizers inside ``compile``/``fit`` and through ``model.save``/``load_model``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers, optimizers

NAMES = ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam", "ftrl",
         "lion"]


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x @ np.arange(4.0).reshape(4, 1)).astype("float32")


def _model(optimizer, seed=1):
    gpunet.utils.set_random_seed(seed)
    m = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    m.compile(optimizer=optimizer, loss="mse")
    return m


@pytest.mark.parametrize("name", NAMES)
def test_fit_with_every_optimizer_by_name(name):
    x, y = _data()
    m = _model(name)
    h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    assert m.optimizer.iterations == 8
    assert all(math.isfinite(v) for v in h.history["loss"])


@pytest.mark.parametrize("make", [
    lambda: optimizers.Nadam(0.01, use_ema=True),
    lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
], ids=["nadam-ema", "rmsprop-centered", "ftrl"])
def test_h5_save_and_load_mid_training_continues_identically(make, tmp_path):
    x, y = _data()
    m = _model(make())
    m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    path = str(tmp_path / "m.h5")
    m.save(path)
    m2 = gpunet.models.load_model(path)
    assert type(m2.optimizer) is type(m.optimizer) and m2.optimizer.iterations == 8
    for (n1, a1), (n2, a2) in zip(m.optimizer.get_slot_arrays(),
                                  m2.optimizer.get_slot_arrays()):
        assert n1 == n2
        np.testing.assert_array_equal(a1, a2, err_msg=n1)
    m.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    m2.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
