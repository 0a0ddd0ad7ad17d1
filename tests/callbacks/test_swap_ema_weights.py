"""SwapEMAWeights: validation and per-epoch callbacks see the moving averages; training goes
on with the trained weights; fit still ends with the averages in the model."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, layers, optimizers
from gpunet.callbacks import Callback, SwapEMAWeights


def _model(use_ema=True):
    m = Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
    m.compile(optimizer=optimizers.SGD(0.05, use_ema=use_ema, ema_momentum=0.5), loss="mse")
    return m


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


class Seen(Callback):
    def __init__(self):
        super().__init__()
        self.at_epoch_end, self.at_test = [], []

    def on_test_begin(self, logs=None):
        self.at_test.append(self.model.get_weights())

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end.append(self.model.get_weights())


def _averages(m):
    opt = m.optimizer
    return np.concatenate([s["average"].ravel() for s in opt._slots])


def _flat(ws):
    return np.concatenate([np.ravel(w) for w in ws])


def test_swap_on_epoch_shows_averages_and_training_continues_from_trained_weights(backend):
    x, y = _data()
    seen = Seen()
    m = _model()
    m.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(x, y),
          callbacks=[SwapEMAWeights(swap_on_epoch=True), seen])
    ref, ref_seen = _model(), Seen()  # the same run without swapping
    ref.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[ref_seen])
    # training is unchanged by the swaps: same final weights (fit ends with the averages)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(_flat(m.get_weights()), backend.to_numpy(_averages(m)),
                               rtol=1e-6)
    # at epoch end and during validation the model held the averages, not the trained weights
    for got, trained in zip(seen.at_epoch_end[:-1], ref_seen.at_epoch_end[:-1]):
        assert not np.allclose(_flat(got), _flat(trained))
    for got, at_end in zip(seen.at_test, seen.at_epoch_end):
        np.testing.assert_allclose(_flat(got), _flat(at_end), rtol=1e-6)


def test_evaluate_swaps_in_and_back(backend):
    x, y = _data()
    m = _model()
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    m.optimizer._slots[0]["average"][...] = 0  # averages of zero: the model predicts 0
    before = _flat(m.get_weights())
    loss = m.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()])
    np.testing.assert_allclose(loss, float(np.mean(y ** 2)), rtol=1e-5)
    np.testing.assert_array_equal(_flat(m.get_weights()), before)


def test_needs_use_ema():
    x, y = _data()
    with pytest.raises(ValueError, match="use_ema=True"):
        _model(use_ema=False).fit(x, y, epochs=1, verbose=0, callbacks=[SwapEMAWeights()])
