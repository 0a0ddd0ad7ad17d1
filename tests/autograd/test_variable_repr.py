"""``repr`` of a Variable as Keras 3.15 prints it (the keras.io Sequential guide prints
``layer.weights``)."""

from __future__ import annotations

import numpy as np

import gpunet as keras


def test_repr_is_keras_3s(backend):
    layer = keras.layers.Dense(3, name="dense")
    layer.build((None, 2))
    layer.set_weights([np.array([[0.5, -1.25, 2.0], [0.0, 3.5, -0.75]], "float32"),
                       np.array([0.1, 0.0, -0.2], "float32")])
    # printed by Keras 3.15 (JAX) for the same weights
    assert repr(layer.weights) == (
        "[<Variable path=dense/kernel, shape=(2, 3), dtype=float32, value=[[ 0.5  -1.25  2.  ]\n"
        " [ 0.    3.5  -0.75]]>, <Variable path=dense/bias, shape=(3,), dtype=float32, "
        "value=[ 0.1  0.  -0.2]>]")
    v = keras.Variable(np.array([1.5, 2.0]), name="my_variable", dtype="float32")
    assert repr(v) == "<Variable path=my_variable, shape=(2,), dtype=float32, value=[1.5 2. ]>"
