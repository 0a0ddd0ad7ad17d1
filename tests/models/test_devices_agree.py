"""A seeded model with dropout trains to the same losses on the CPU and on the device path.

The device is the stand-in of ``standin_device.py`` (the CuPy code paths of gpunet on NumPy,
its Philox words made by the NumPy reference where a GPU runs the CUDA kernel): both runs start
from the same host-drawn weights, see the same batches and draw the same dropout masks, so
``examples/compare_devices.py`` can hold a GPU to the CPU's losses.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet import layers
from gpunet.backend.philox import PhiloxStream

sys.path.insert(0, os.path.dirname(__file__))
from standin_device import StandInDevice  # noqa: E402


@pytest.fixture
def device(monkeypatch):
    dev = StandInDevice()
    monkeypatch.setitem(B._CUPY, 0, dev)
    return dev


def _train(where, x, y, rekey: bool = False) -> np.ndarray:
    gpunet.utils.set_random_seed(3)
    if rekey:  # other unseeded masks, all else equal
        B.backend_for(where).philox = PhiloxStream(12345)
    with B.device(where):
        model = gpunet.Sequential([layers.Input((20,)), layers.Dense(64, activation="relu"),
                                   layers.Dropout(0.3), layers.Dense(32, activation="relu"),
                                   layers.Dropout(0.2, seed=7), layers.Dense(10,
                                                                             activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    return np.asarray(history.history["loss"])


def test_cpu_and_device_runs_draw_the_same_masks_and_losses(device):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 20)).astype("float32")
    y = rng.integers(0, 10, size=96)
    cpu = _train("cpu", x, y)
    dev = _train(device, x, y)
    np.testing.assert_allclose(dev, cpu, rtol=1e-5)
    # the agreement is the masks': other masks give other losses
    assert not np.allclose(_train(device, x, y, rekey=True), cpu, rtol=1e-3)
