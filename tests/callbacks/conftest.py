"""Shared helpers for callback tests: a tiny model, fixed data, and a log-scripting callback."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import Callback


class Script(Callback):
    """Writes scripted values into the epoch logs (listed before the callback under test, so
    that callback sees them). ``values`` maps a log key to one value per epoch (``None``
    removes the key); ``weights`` records ``model.get_weights()`` at every epoch end."""

    def __init__(self, **values):
        super().__init__()
        self.values = values
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, seq in self.values.items():
            if seq[epoch] is None:
                logs.pop(key, None)
            else:
                logs[key] = seq[epoch]
        self.weights[epoch] = self.model.get_weights()


@pytest.fixture
def make_model():
    def make(lr=0.1, momentum=0.0, seed=0):
        m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(1)])
        m.compile(optimizer=gpunet.optimizers.SGD(lr, momentum=momentum), loss="mse")
        rng = np.random.default_rng(seed)
        m.set_weights([rng.normal(size=(4, 1)).astype("float32") * 0.5,
                       np.zeros(1, "float32")])
        return m

    return make


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32") + 0.25).astype("float32")
    return x, y


@pytest.fixture
def script():
    return Script
