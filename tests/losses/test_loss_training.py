"""Losses inside compile/fit: custom functions train, masks and classes go through compile."""

import math

import numpy as np
import pytest

from gpunet import Sequential, layers, losses, ops, optimizers


def tiny_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def test_custom_loss_function_trains(backend):
    def quartic(y_true, y_pred):
        d = y_pred - y_true
        return ops.mean(ops.square(ops.square(d)) + ops.abs(d), axis=-1)

    x, y = tiny_regression()
    m = Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile(optimizer=optimizers.Adam(0.05), loss=quartic)
    h = m.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    p = m.predict(x, verbose=0)
    d = p - y
    assert m.evaluate(x, y, verbose=0) == pytest.approx(float(np.mean(d ** 4 + np.abs(d))),
                                                        rel=1e-4)


def test_custom_loss_subclass_trains(backend):
    class Scaled(losses.Loss):
        def call(self, y_true, y_pred):
            return 3.0 * losses.mean_squared_error(y_true, y_pred)

    x, y = tiny_regression()
    m = Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile(optimizer=optimizers.SGD(0.02), loss=Scaled())
    h = m.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


def test_ignore_class_through_compile(backend):
    x = np.eye(4, dtype="float32")
    y = np.array([0, -1, 2, -1])
    m = Sequential([layers.Input((4,)), layers.Dense(3, kernel_initializer="zeros",
                                                     activation="softmax")])
    m.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(ignore_class=-1))
    # uniform predictions: each valid entry costs log 3; the ignored ones leave the mean
    assert m.evaluate(x, y, verbose=0) == pytest.approx(math.log(3), rel=1e-6)
    m.compile(optimizer="sgd", loss=lambda t, p: losses.sparse_categorical_crossentropy(
        t, p, ignore_class=-1))
    assert m.evaluate(x, y, verbose=0) == pytest.approx(math.log(3), rel=1e-6)


@pytest.mark.parametrize("loss", ["huber", "logcosh", "kld", "poisson", "mape", "msle",
                                  "squared_hinge", "cosine_similarity"])
def test_string_losses_compile_and_run(backend, loss):
    x, y = tiny_regression()
    y = np.abs(y) / 10 + 0.1
    m = Sequential([layers.Input((3,)), layers.Dense(1, activation="softplus")])
    m.compile(optimizer=optimizers.Adam(0.01), loss=loss)
    h = m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert all(np.isfinite(h.history["loss"]))
