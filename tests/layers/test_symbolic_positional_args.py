"""A layer called on several positional KerasTensors in a Functional model gets all of them,
as in Keras 3: the training guide's ``LogisticEndpoint(name="predictions")(targets, logits)``
compiled without a loss. The reference loss is Keras's binary cross-entropy formula with
logits, computed here in NumPy (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet as keras
from gpunet import ops


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)
        return ops.softmax(logits)


def _model():
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10, kernel_initializer="ones", bias_initializer="zeros")(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    return keras.Model(inputs=[inputs, targets], outputs=predictions)


def test_second_positional_tensor_reaches_call(backend):
    model = _model()
    rng = np.random.default_rng(0)
    x, t = rng.random((4, 3)), rng.random((4, 10))
    z = x.sum(axis=1, keepdims=True) * np.ones((1, 10))  # logits with all-ones kernel
    bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    loss = model.evaluate({"inputs": x, "targets": t}, verbose=0)
    np.testing.assert_allclose(loss, bce, rtol=1e-5)
    out = model.predict({"inputs": x, "targets": t}, verbose=0)
    np.testing.assert_allclose(out, np.full((4, 10), 0.1), rtol=1e-5)
    model.compile(optimizer="adam")
    hist = model.fit({"inputs": x, "targets": t}, epochs=2, verbose=0).history
    assert hist["loss"][1] < hist["loss"][0]


def test_positional_errors_name_the_layer():
    a, b = keras.Input((2,)), keras.Input((2,))

    class Star(keras.layers.Layer):
        def call(self, x, *rest):
            return x

    with pytest.raises(TypeError, match="'star'.*\\*args"):
        Star(name="star")(a, b)

    class Two(keras.layers.Layer):
        def call(self, x, y):
            return x + y

    with pytest.raises(TypeError, match="'two'.*takes 2 positional arguments; received 3"):
        Two(name="two")(a, b, b)
    with pytest.raises(TypeError, match="multiple values for argument 'y'"):
        Two(name="two2")(a, b, y=b)
    out = Two(name="two3")(a, b)
    assert tuple(out.shape) == (None, 2)
