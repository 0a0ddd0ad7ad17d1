"""``compile(optimizer)`` without a loss, as in Keras 3: ``fit``/``evaluate`` minimize and report
the losses the layers add with ``add_loss`` (the subclassing guide's pattern); with no loss at
all they raise Keras's error (its TensorFlow/torch backends; JAX alone trains on zero)."""

import numpy as np
import pytest

import gpunet as keras
from gpunet import ops


class SquaredOutputLoss(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.mean(ops.square(inputs)))
        return inputs


def _model():
    inputs = keras.Input(shape=(2,))
    h = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(inputs)
    return keras.Model(inputs, SquaredOutputLoss()(h))


def test_fit_minimizes_the_added_loss(backend):
    x = np.tile(np.array([[1.0, 2.0]], "float32"), (4, 1))
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01))
    h = model.fit(x, np.zeros((4, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    # by hand: out = 1 + 2 = 3, loss = 9, dloss/dw = mean(2 * out * x) = [6, 12]
    assert h.history["loss"] == [pytest.approx(9.0)]
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [0.94, 0.88], rtol=1e-6)
    # evaluate reports the added loss too: out = 0.94 + 1.76 = 2.7
    assert model.evaluate(x, np.zeros((4, 1)), verbose=0) == pytest.approx(2.7**2, rel=1e-5)


def test_fit_without_any_loss_raises_keras_error():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
