"""fit / evaluate / predict behaviours against hand-computed values (Keras semantics)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers, optimizers
from gpunet.callbacks import Callback, EarlyStopping


def zero_model(units=1, in_dim=3, lr=0.0, activation=None):
    m = Sequential([layers.Input((in_dim,)),
                    layers.Dense(units, activation=activation, kernel_initializer="zeros")])
    m.compile(optimizer=optimizers.SGD(lr), loss="mse")
    return m


class Recorder(layers.Layer):
    """Identity layer remembering the rows it saw in training mode."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    def call(self, x, training=None):
        if training:
            self.seen.append(x.numpy()[:, 0].copy())
        return x

    def compute_output_shape(self, s):
        return s


def test_validation_split_takes_last_fraction_before_shuffling(backend):
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="float32").reshape(10, 1)
    rec = Recorder()
    m = Sequential([layers.Input((2,)), rec, layers.Dense(1, kernel_initializer="zeros")])
    m.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    h = m.fit(x, y, batch_size=4, epochs=2, validation_split=0.3, shuffle=True, verbose=0)
    # predictions are 0, so val_loss = mean(y_val ** 2) over the last 3 rows (7, 8, 9)
    assert h.history["val_loss"][0] == pytest.approx(np.mean([49, 64, 81]))
    for epoch in range(2):
        rows = np.concatenate(rec.seen[epoch * 2:(epoch + 1) * 2])
        assert sorted(rows.tolist()) == [0, 2, 4, 6, 8, 10, 12]  # x[:, 0] of rows 0..6
    assert h.history["loss"][0] == pytest.approx(np.mean(np.arange(7.0) ** 2))


def test_shuffle_false_keeps_order_and_true_permutes_each_epoch(backend):
    x = np.arange(16, dtype="float32").reshape(16, 1)
    y = np.zeros((16, 1), "float32")
    rec = Recorder()
    m = Sequential([layers.Input((1,)), rec, layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert [r.tolist() for r in rec.seen] == [list(range(0, 5)), list(range(5, 10)),
                                              list(range(10, 15)), [15]]
    rec.seen.clear()
    gpunet.utils.set_random_seed(3)
    m.fit(x, y, batch_size=16, epochs=3, shuffle=True, verbose=0)
    orders = [r.tolist() for r in rec.seen]
    assert all(sorted(o) == list(range(16)) for o in orders)
    assert orders[0] != list(range(16)) and len({tuple(o) for o in orders}) == 3


def test_class_weight_and_sample_weight_scale_the_loss(backend):
    x = np.ones((4, 3), "float32")
    y = np.array([[0.0], [1.0], [1.0], [2.0]], "float32")
    m = zero_model()
    h = m.fit(x, y, batch_size=4, epochs=1, class_weight={0: 5.0, 1: 2.0, 2: 0.5}, verbose=0)
    # sum(w * y^2) / N with predictions 0
    assert h.history["loss"][0] == pytest.approx((0 * 5 + 1 * 2 + 1 * 2 + 4 * 0.5) / 4)
    h = m.fit(x, y, batch_size=4, epochs=1, sample_weight=np.array([1, 0, 3, 1.0]), verbose=0)
    assert h.history["loss"][0] == pytest.approx((0 + 0 + 3 + 4) / 4)
    h = m.fit(x, y, batch_size=2, epochs=1, sample_weight=np.array([1, 0, 3, 1.0]),
              class_weight={1: 2.0}, verbose=0)  # Keras 2: the two are multiplied
    assert h.history["loss"][0] == pytest.approx(((0 + 0) / 2 * 2 + (6 + 4) / 2 * 2) / 4)


def test_evaluate_and_predict_forms(backend):
    m = Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).random((10, 2)).astype("float32")
    y = np.arange(10) % 3
    loss, acc = m.evaluate(x, y, verbose=0)
    p = m.predict(x, batch_size=3, verbose=0)
    assert isinstance(p, np.ndarray) and p.shape == (10, 3)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert loss == pytest.approx(float(np.mean(-np.log(p[np.arange(10), y]))), rel=1e-5)
    assert acc == pytest.approx(float(np.mean(p.argmax(1) == y)))
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == ["accuracy", "loss"]  # Keras 3 sorts the log keys
    assert m.metrics_names == ["loss", "accuracy"]
    np.testing.assert_allclose(m.predict_on_batch(x), p, rtol=1e-6)
    r = m.test_on_batch(x, y)
    assert r[0] == pytest.approx(loss, rel=1e-6)


def test_train_on_batch_updates_weights_like_sgd(backend):
    m = zero_model(lr=0.1)
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    y = np.array([[1.0]], "float32")
    loss = m.train_on_batch(x, y)
    assert loss == pytest.approx(1.0)
    # d(mean((0 - 1)^2))/dw = 2 * (0 - 1) * x  →  w = 0.2 * x, b = 0.2
    kernel, bias = m.get_weights()
    np.testing.assert_allclose(kernel[:, 0], [0.2, 0.4, 0.6], rtol=1e-6)
    np.testing.assert_allclose(bias, [0.2], rtol=1e-6)


def test_initial_epoch_steps_per_epoch_and_history(backend):
    m = zero_model(lr=0.01)
    x = np.ones((10, 3), "float32")
    y = np.ones((10, 1), "float32")
    h = m.fit(x, y, epochs=4, initial_epoch=2, steps_per_epoch=3, verbose=0)
    assert h.epoch == [2, 3]
    assert len(h.history["loss"]) == 2 and m.history is h
    assert m.optimizer.iterations == 6


def test_validation_freq_and_validation_data(backend):
    m = zero_model()
    x = np.ones((6, 3), "float32")
    y = np.ones((6, 1), "float32")
    h = m.fit(x, y, epochs=4, validation_data=(x, 2 * y), validation_freq=2, verbose=0)
    assert len(h.history["val_loss"]) == 2
    assert h.history["val_loss"][0] == pytest.approx(4.0)


class Script(Callback):
    """Writes a scripted `val_loss` into the epoch logs and keeps each epoch's weights."""

    def __init__(self, values):
        super().__init__()
        self.values, self.weights = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_early_stopping_patience_and_restore_best_weights(backend):
    m = zero_model(lr=0.05)
    x = np.random.default_rng(1).random((8, 3)).astype("float32")
    y = np.ones((8, 1), "float32")
    script = Script([5.0, 3.0, 4.0, 3.5, 3.2, 1.0])
    es = EarlyStopping(patience=2, restore_best_weights=True)
    h = m.fit(x, y, epochs=6, callbacks=[script, es], verbose=0)
    # best at epoch 1 (3.0); epochs 2 and 3 do not improve → stop at epoch 3
    assert h.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3
    for got, exp in zip(m.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(got, exp)


def test_early_stopping_restores_even_when_training_completes(backend):
    m = zero_model(lr=0.05)
    x = np.ones((4, 3), "float32")
    y = np.ones((4, 1), "float32")
    script = Script([2.0, 1.0, 1.5])
    m.fit(x, y, epochs=3, callbacks=[script, EarlyStopping(patience=5, restore_best_weights=True)],
          verbose=0)
    for got, exp in zip(m.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(got, exp)


def test_early_stopping_mode_and_min_delta():
    es = EarlyStopping(monitor="val_accuracy", min_delta=0.1)
    assert es.mode == "max" and es.min_delta == 0.1
    es = EarlyStopping(monitor="val_loss", min_delta=0.1)
    assert es.mode == "min" and es.min_delta == -0.1


def test_nan_loss_batch_is_skipped_and_its_weights_kept(backend):
    # Keras 3 keeps training on a NaN loss; gpunet undoes that step (weights unchanged by
    # batch 2, which holds the NaN row) and goes on with batch 3 and the next epochs.
    m = zero_model(lr=0.01)
    x = np.ones((8, 3), "float32")
    x[5] = np.nan
    y = np.ones((8, 1), "float32")
    keep = []

    class Snap(Callback):
        def on_train_batch_end(self, batch, logs=None):
            keep.append(self.model.get_weights())

    h = m.fit(x, y, batch_size=2, epochs=3, shuffle=False, callbacks=[Snap()], verbose=0)
    assert len(keep) == 12 and h.epoch == [0, 1, 2]
    for got, exp in zip(keep[2], keep[1]):  # batch 2 changed nothing
        np.testing.assert_array_equal(got, exp)
    assert not np.array_equal(keep[3][0], keep[2][0])  # batch 3 trained
    assert all(np.isfinite(w).all() for e in keep for w in e)


def test_sequential_add_pop_weights_and_counts():
    m = Sequential()
    m.add(layers.Dense(4, input_shape=(3,)))
    m.add(layers.Dense(2))
    assert m.built and m.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert [w.path for w in m.weights] == ["dense/kernel", "dense/bias", "dense_1/kernel",
                                           "dense_1/bias"]
    popped = m.pop()
    assert popped.name == "dense_1" and len(m.layers) == 1
    assert m.output_shape == (None, 4)
    ws = [np.full(w.shape, i, "float32") for i, w in enumerate(m.weights)]
    m.set_weights(ws)
    for got, exp in zip(m.get_weights(), ws):
        np.testing.assert_array_equal(got, exp)
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        m.set_weights(ws[:1])


# -- bad input ------------------------------------------------------------------------------
def test_wrong_input_shape_names_layer_and_shapes():
    m = zero_model(in_dim=3)
    with pytest.raises(ValueError, match=r"dense.*expected.*\(None, 3\).*\(None, 5\)"):
        m.predict(np.ones((2, 5), "float32"), verbose=0)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        layers.Dense(2, activation="rleu")
    m = Sequential([layers.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="Did you mean 'mean_squared_error'"):
        m.compile(optimizer="sgd", loss="mean_squared_eror")
    with pytest.raises(ValueError, match="Unknown optimizer: 'adamm'.*'adam'"):
        m.compile(optimizer="adamm", loss="mse")


def test_sparse_labels_out_of_range():
    m = Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"label value of 3.*\[0, 2\]"):
        m.fit(np.ones((4, 2), "float32"), np.array([0, 1, 2, 3]), verbose=0)


def test_x_and_y_lengths_differ():
    m = zero_model()
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        m.fit(np.ones((5, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_out_of_range(split):
    m = zero_model()
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(np.ones((5, 3), "float32"), np.ones((5, 1), "float32"), validation_split=split,
              verbose=0)


def test_fit_before_compile_and_strings_in_data():
    m = Sequential([layers.Input((2,)), layers.Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(np.ones((2, 2)), np.ones((2, 1)))
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="`x` must hold numbers"):
        m.fit(np.array([["a", "b"]]), np.ones((1, 1)), verbose=0)


def test_progress_bar_verbose_1_and_2(capsys):
    m = zero_model(lr=0.01)
    x = np.ones((10, 3), "float32")
    y = np.ones((10, 1), "float32")
    m.fit(x, y, batch_size=5, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    # batch 1: loss 1, w -> 0.02 each; batch 2: pred 0.08, loss 0.92**2; running mean
    assert "2/2 - " in out and f"loss: {(1 + 0.92 ** 2) / 2:.4f}" in out
    m.fit(x, y, batch_size=5, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "2/2\x1b[0m \x1b[32m" + "━" * 20 in out and "/step" in out
