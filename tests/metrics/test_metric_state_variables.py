"""``Metric.add_variable`` / ``add_weight`` / ``variables`` and the default ``reset_state``, as
in Keras 3: a custom metric keeps its state in variables updated with ``assign_add``."""

import numpy as np
import pytest

import gpunet
from gpunet import ops


class TruePositives(gpunet.metrics.Metric):
    """The keras.io guide's ``CategoricalTruePositives`` (no ``reset_state`` of its own)."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives


def test_add_variable_accumulates_and_default_reset_zeroes(backend):
    m = TruePositives()
    assert m.variables == [m.true_positives] and not m.true_positives.trainable
    assert m.true_positives.shape == () and str(m.true_positives.dtype) == "float32"
    y_true = np.array([[0], [1], [2], [1]])
    y_pred = np.eye(3, dtype="float32")[[0, 2, 2, 1]]  # argmax 0, 2, 2, 1: three right
    m.update_state(y_true, y_pred)
    m.update_state(y_true, y_pred, sample_weight=np.array([[1.0], [1.0], [0.5], [0.0]]))
    assert float(m.result()) == pytest.approx(3.0 + 1.5)  # hand-counted
    m.reset_state()
    assert float(m.result()) == 0.0


def test_add_weight_alias_and_dtype():
    class Count(gpunet.metrics.Metric):
        def __init__(self):
            super().__init__(name="count", dtype="float64")
            self.n = self.add_weight(shape=(2,))  # initializer None: zeros

        def update_state(self, x):
            self.n.assign_add(np.array([1.0, float(len(x))]))

        def result(self):
            return self.n

    c = Count()
    c.update_state([1, 2, 3])
    np.testing.assert_array_equal(np.asarray(c.result().data), [1.0, 3.0])
    assert str(c.n.dtype) == "float64"
    c.reset_state()
    np.testing.assert_array_equal(np.asarray(c.result().data), [0.0, 0.0])


def test_custom_metric_in_fit_counts_the_last_epoch(backend):
    gpunet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = rng.integers(0, 3, size=(96, 1))
    model = gpunet.Sequential([gpunet.Input(shape=(5,)), gpunet.layers.Dense(3)])
    model.compile(optimizer=gpunet.optimizers.SGD(0.0), metrics=[TruePositives()],
                  loss=gpunet.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    # learning rate 0: the count of each epoch is the untouched model's, counted by NumPy
    expected = float((np.argmax(model.predict(x, verbose=0), axis=1) == y[:, 0]).sum())
    assert h.history["categorical_true_positives"] == [expected, expected]
