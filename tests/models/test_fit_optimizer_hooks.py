"""What ``fit`` owes the optimizer and the logs: EMA finalisation, loss scaling, vector metrics."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gpunet import Sequential, layers, metrics, optimizers
from gpunet.callbacks import CSVLogger


def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")
    return x, y


def _model(opt):
    m = Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
    m.compile(optimizer=opt, loss="mse")
    return m


def test_fit_ends_with_the_moving_average_in_the_weights(backend):
    x, y = _data()
    mom = 0.5
    fitted = _model(optimizers.SGD(0.05, use_ema=True, ema_momentum=mom))
    fitted.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # the same steps by hand, with the average of Keras 3 (the first step copies the weights)
    plain = _model(optimizers.SGD(0.05))
    avg = None
    for i in range(0, 12, 4):
        plain.train_on_batch(x[i:i + 4], y[i:i + 4])
        w = [np.array(v) for v in plain.get_weights()]
        avg = w if avg is None else [mom * a + (1 - mom) * b for a, b in zip(avg, w)]
    for got, want, last in zip(fitted.get_weights(), avg, w):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, last)  # the average, not the last weights


def test_loss_scale_factor_leaves_the_trajectory_and_the_logged_loss_unchanged(backend):
    x, y = _data()
    ref = _model(optimizers.SGD(0.05))
    h_ref = ref.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    scaled = _model(optimizers.SGD(0.05, loss_scale_factor=1024.0))
    h = scaled.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(scaled.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=1e-6)


def _vector_metric_model():
    m = Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax",
                                                     kernel_initializer="glorot_uniform")])
    m.compile(optimizer="adam", loss="categorical_crossentropy",
              metrics=[metrics.F1Score(average=None, threshold=0.3),
                       metrics.Precision(thresholds=[0.2, 0.5], name="prec")])
    return m


def _cls_data(n=30):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    return x, y


def test_vector_metrics_log_as_arrays_and_print(backend, tmp_path, capsys):
    x, y = _cls_data()
    m = _vector_metric_model()
    log = tmp_path / "log.csv"
    h = m.fit(x, y, batch_size=8, epochs=2, verbose=1, validation_split=0.2,
              callbacks=[CSVLogger(str(log))])
    f1 = h.history["f1_score"][-1]
    assert isinstance(f1, np.ndarray) and f1.shape == (3,)
    assert h.history["prec"][-1].shape == (2,) and h.history["val_prec"][-1].shape == (2,)
    assert "f1_score:" in capsys.readouterr().out
    rows = list(csv.DictReader(open(log)))
    cell = rows[-1]["f1_score"]  # Keras writes '"[a, b, c]"', quotes included
    assert cell.startswith('"[') and len(cell.split(",")) == 3
    res = m.evaluate(x, y, verbose=0, return_dict=True)
    assert res["f1_score"].shape == (3,) and isinstance(res["loss"], float)


def test_vector_metric_matches_per_class_f1_by_hand(backend):
    x, y = _cls_data()
    m = _vector_metric_model()
    res = m.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    pred = (np.asarray(m.predict(x, verbose=0)) > 0.3).astype(float)
    tp = (pred * y).sum(0)
    fp = (pred * (1 - y)).sum(0)
    fn = ((1 - pred) * y).sum(0)
    want = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-7)
    np.testing.assert_allclose(res["f1_score"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -2.0])
def test_loss_scale_factor_must_be_positive(bad):
    with pytest.raises(ValueError, match="loss_scale_factor"):
        optimizers.SGD(0.1, loss_scale_factor=bad)
