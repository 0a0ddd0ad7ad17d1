"""fit-time checks that run once per fit on the host (the GPU path's guards), and the Keras
order of callbacks around fit's validation."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, layers, losses
from gpunet.callbacks import Callback
from gpunet.models.training import _check_sparse_labels


def _model(loss):
    m = Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss=loss)
    return m


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy",
                                  losses.SparseCategoricalCrossentropy()])
def test_whole_array_label_check_names_value_and_range(loss):
    m = _model(loss)
    _check_sparse_labels(m, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"label value of 3.*\[0, 2\]"):
        _check_sparse_labels(m, np.array([0, 3, 1]))
    with pytest.raises(ValueError, match=r"label value of -1"):
        _check_sparse_labels(m, np.array([[0], [-1]]))


def test_label_check_skips_other_losses_and_ignore_class():
    _check_sparse_labels(_model("categorical_crossentropy"), np.array([[0, 9, 1]]))
    m = _model(losses.SparseCategoricalCrossentropy(ignore_class=-1))
    _check_sparse_labels(m, np.array([0, -1, 2]))


def test_validation_runs_inside_test_hooks_with_unprefixed_logs(backend):
    events = []

    class Spy(Callback):
        def on_test_begin(self, logs=None):
            events.append("test_begin")

        def on_test_batch_end(self, batch, logs=None):
            events.append(f"test_batch_{batch}")

        def on_test_end(self, logs=None):
            events.append(("test_end", sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", sorted(logs)))

    m = _model("sparse_categorical_crossentropy")
    x = np.ones((10, 2), "float32")
    y = np.zeros(10, "int64")
    m.fit(x, y, batch_size=4, epochs=1, validation_data=(x[:6], y[:6]), verbose=0,
          callbacks=[Spy()])
    assert events == ["test_begin", "test_batch_0", "test_batch_1", ("test_end", ["loss"]),
                      ("epoch_end", ["loss", "val_loss"])]
