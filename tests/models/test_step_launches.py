"""A training step on the device path launches the same work every step: what a CUDA graph
captured once would replay (issue: whole-step capture needs every per-step value, the
optimizer's step count and learning rate, the dropout streams' counters, in device memory).

The stand-in device (``standin_device.py``) runs gpunet's CuPy paths on NumPy. Every kernel
launch and every array-module call of a step is recorded with its arguments: arrays by shape
and dtype, scalars by value. Two steps of a model must give the same record; a scalar that
changed (a host-side step count, a Philox counter passed by value) would be frozen into a
captured graph and replayed stale.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet import layers

sys.path.insert(0, os.path.dirname(__file__))
import standin_device as S  # noqa: E402

LOG: list = []


def _sig(a):
    if isinstance(a, np.ndarray):
        return ("array", a.shape, str(a.dtype))
    if isinstance(a, (list, tuple)):
        return tuple(_sig(v) for v in a)
    return ("scalar", repr(a))


@pytest.fixture
def device(monkeypatch):
    real_call, real_getattr = S._EmulatedKernel.__call__, S._Xp.__getattr__

    def call(self, *args):
        LOG.append(("kernel", tuple(self.ins), tuple(_sig(a) for a in args)))
        return real_call(self, *args)

    def getattr_(self, name):
        attr = real_getattr(self, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def recorded(*a, **k):
            LOG.append(("xp", name, tuple(_sig(v) for v in a),
                        tuple(sorted((key, _sig(v)) for key, v in k.items()))))
            return attr(*a, **k)

        return recorded

    monkeypatch.setattr(S._EmulatedKernel, "__call__", call)
    monkeypatch.setattr(S._Xp, "__getattr__", getattr_)
    dev = S.StandInDevice()
    real_words = dev.philox_words

    def words(start, n, key):  # stands for the Philox kernel launch
        LOG.append(("philox_words", _sig(start), n, key))
        return real_words(start, n, key)

    dev.philox_words = words
    monkeypatch.setitem(B._CUPY, 0, dev)
    return dev


class _Steps(gpunet.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.records = []

    def on_train_batch_begin(self, batch, logs=None):
        LOG.clear()

    def on_train_batch_end(self, batch, logs=None):
        self.records.append(list(LOG))


def _models():
    return {
        "mlp_dropout": lambda: gpunet.Sequential([
            layers.Input((20,)), layers.Dense(32, activation="relu"), layers.Dropout(0.3),
            layers.Dense(32, activation="relu"), layers.Dropout(0.2, seed=5),
            layers.Dense(10, activation="softmax")]),
        "cnn": lambda: gpunet.Sequential([
            layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
            layers.Dense(10, activation="softmax")]),
        "lstm_dropout": lambda: gpunet.Sequential([
            layers.Input((5, 20)), layers.LSTM(8, dropout=0.2, recurrent_dropout=0.1),
            layers.Dense(10, activation="softmax")]),
        "gru_bn": lambda: gpunet.Sequential([
            layers.Input((5, 20)), layers.GRU(8, return_sequences=True, dropout=0.1),
            layers.BatchNormalization(), layers.GlobalAveragePooling1D(),
            layers.Dense(10, activation="softmax")]),
        "attention": lambda: _attention_model(),
    }


def _attention_model():
    x = layers.Input((5, 20))
    h = layers.MultiHeadAttention(2, 4, dropout=0.1)(x, x)
    h = layers.LayerNormalization()(layers.Add()([x, h]))
    h = layers.Dropout(0.1)(layers.GlobalAveragePooling1D()(h))
    return gpunet.Model(x, layers.Dense(10, activation="softmax")(h))


@pytest.mark.parametrize("name", list(_models()))
@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum_schedule"])
def test_a_step_launches_the_same_work_every_step(device, name, optimizer):
    rng = np.random.default_rng(0)
    shape = {"mlp_dropout": (20,), "cnn": (8, 8, 1)}.get(name, (5, 20))
    x = rng.normal(size=(64,) + shape).astype("float32")
    y = rng.integers(0, 10, size=64)
    with B.device(device):
        model = _models()[name]()
    opt = (gpunet.optimizers.Adam(1e-3) if optimizer == "adam" else gpunet.optimizers.SGD(
        gpunet.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), momentum=0.9))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    steps = _Steps()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[steps])
    first, *rest = steps.records[1:]  # the first step builds the optimizer's slots
    assert first and any(r[0] == "kernel" for r in first)
    for later in rest:
        diff = [(a, b) for a, b in zip(first, later) if a != b]
        assert len(later) == len(first) and not diff, diff[:3]
    # the dropout draws read their counter from device memory
    assert any(r[0] == "philox_words" and r[1][0] == "array" for r in first)


def test_a_device_stream_counts_on_the_device_and_reads_back_once(device):
    from gpunet.backend.philox import PhiloxStream

    S.READS.records = []
    S.READS.on = True
    try:
        s = PhiloxStream(9)
        a = s.uniform(device, (10,), "float32")  # blocks 0-2
        b = s.uniform(device, (3,), "float32")   # block 3
        assert S.READS.records == []             # nothing read back while drawing
        assert s.get_state() == {"philox": [9, 0, 4]}  # one read, at the checkpoint
    finally:
        S.READS.on = False
    host = PhiloxStream(9)
    np.testing.assert_array_equal(np.asarray(a.view(np.ndarray)),
                                  host.uniform(B.numpy_backend(), (10,), "float32"))
    np.testing.assert_array_equal(np.asarray(b.view(np.ndarray)),
                                  host.uniform(B.numpy_backend(), (3,), "float32"))
    # after the read the stream goes on from the same counter, on either side
    np.testing.assert_array_equal(s.uniform(B.numpy_backend(), (5,), "float32"),
                                  host.uniform(B.numpy_backend(), (5,), "float32"))
