"""The keras.io weather-forecasting pattern, as the original file writes it with the imports
changed: windows from ``keras.preprocessing.timeseries_dataset_from_array``, a look at one
batch through ``for batch in ds.take(1)`` and ``.numpy()``, an LSTM regressor trained with
``fit(dataset, validation_data=dataset)``, the plotting loop's ``x[0][:, 1].numpy()``.

Keras 3.15 trained the same model from the same initial weights on the same windows
(``tests/fixtures/make_keras_timeseries_forecast.py``); gpunet must give its losses and
predictions. (``examples/keras_io/README.md`` has the table of all 21 originals.)
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet as keras

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                       "keras_timeseries_forecast.npz")
SEQ, RATE, BATCH, DELAY = 20, 2, 64, 6


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def _datasets(ref):
    data, split = ref["data"], int(ref["split"])
    tgt = data[(SEQ - 1) * RATE + DELAY:, :1]
    train = keras.preprocessing.timeseries_dataset_from_array(
        data[:split], tgt[:split], sequence_length=SEQ, sampling_rate=RATE, batch_size=BATCH)
    val = keras.preprocessing.timeseries_dataset_from_array(
        data[split:], tgt[split:], sequence_length=SEQ, sampling_rate=RATE, batch_size=BATCH)
    return train, val


def test_windows_are_keras_windows(ref):
    train, val = _datasets(ref)
    assert train.cardinality() == -(-int(ref["n_train"]) // BATCH)
    assert sum(len(b[0]) for b in val) == int(ref["n_val"])
    for batch in train.take(1):
        inputs, targets = batch
    assert inputs.numpy().shape == (BATCH, SEQ, 3)
    np.testing.assert_array_equal(inputs.numpy(), ref["x_tr_first"])
    np.testing.assert_array_equal(targets.numpy(), ref["y_tr_first"])


def test_lstm_forecast_trains_as_keras(backend, ref):
    train, val = _datasets(ref)
    for batch in train.take(1):
        inputs, _ = batch
    x_in = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    model = keras.Model(x_in, keras.layers.Dense(1)(keras.layers.LSTM(8)(x_in)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.set_weights([ref[f"w{i}"] for i in range(len(model.get_weights()))])
    hist = model.fit(train, epochs=2, validation_data=val, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hist["loss"], ref["loss"], rtol=2e-4)
    np.testing.assert_allclose(hist["val_loss"], ref["val_loss"], rtol=2e-4)
    for x, y in val.take(1):
        pred = model.predict(x, verbose=0)
        assert x[0][:, 1].numpy().shape == (SEQ,) and y[0].numpy().shape == (1,)
    np.testing.assert_allclose(pred, ref["pred"], rtol=1e-3, atol=1e-4)
