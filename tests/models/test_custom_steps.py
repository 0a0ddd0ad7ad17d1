"""Overridable steps as in Keras 3 ("Customizing what happens in fit() with PyTorch"):
``train_step``, ``test_step``, ``predict_step``, ``compute_loss``, ``compute_metrics``,
``metrics``, ``reset_metrics``, ``zero_grad``, ``v.value.grad``, ``optimizer.apply`` and
``apply_gradients``. Reference numbers are NumPy formulas for one SGD step on a linear model."""

import numpy as np
import pytest

import gpunet as keras
from gpunet import ops


def _data(n=16, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    return x, y


def _weights(d=4, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(d, 1)).astype("float32"), np.array([0.3], "float32")]


def _sgd_step(x, y, w, b, lr):
    """One SGD step on mean((x @ w + b - y)^2), by hand."""
    r = x @ w + b - y
    return w - lr * 2.0 * x.T @ r / len(x), b - lr * 2.0 * r.mean(axis=0)


class GuideModel(keras.Model):
    """The guide's first ``train_step`` (torch backend), imports changed only."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with keras.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _functional(cls, d=4):
    inputs = keras.Input(shape=(d,))
    outputs = keras.layers.Dense(1)(inputs)
    return cls(inputs, outputs)


def test_guide_train_step_matches_one_sgd_step_and_logs_metrics(backend):
    x, y = _data()
    model = _functional(GuideModel)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    w, b = _weights()
    model.set_weights([w, b])
    h = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ew, eb = _sgd_step(x, y, w, b, 0.1)
    got = model.get_weights()
    np.testing.assert_allclose(got[0], ew, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], eb, rtol=1e-5, atol=1e-6)
    pred = x @ w + b  # the logs are those of the batch, before the update
    np.testing.assert_allclose(h.history["loss"][0], np.mean((pred - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(h.history["mae"][0], np.mean(np.abs(pred - y)), rtol=1e-5)
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]


def test_train_step_receives_the_batch_as_keras_packs_it(backend):
    seen = []

    class Spy(keras.Model):
        def train_step(self, data):
            seen.append(data)
            return {"n": float(len(data) if isinstance(data, tuple) else -1)}

    x, y = _data(8)
    model = _functional(Spy)
    model.compile()  # Keras: a custom train_step needs no loss
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    model.fit(x, y, sample_weight=np.ones(8), batch_size=8, epochs=1, verbose=0)
    h = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert [len(d) for d in seen[:3]] == [2, 2, 3]
    xt, yt = seen[0]
    assert isinstance(xt, keras.Tensor) and isinstance(yt, keras.Tensor)
    np.testing.assert_array_equal(xt.numpy(), x[:4])
    np.testing.assert_array_equal(yt.numpy(), y[:4])
    assert isinstance(seen[3], keras.Tensor) and seen[3].shape == (8, 4)  # x alone
    assert h.history == {"n": [-1.0]}


def test_fit_without_a_loss_needs_a_custom_train_step():
    model = _functional(keras.Model)
    model.compile(optimizer="sgd")
    # no compiled loss and no add_loss: Keras 3's error (TensorFlow and torch backends)
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(*_data(), verbose=0)


def test_apply_gradients_and_returned_log_types(backend):
    class Model2(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            loss = ops.mean(ops.square(self(x, training=True) - y))
            loss.backward()
            grads = [v.grad for v in self.trainable_weights]
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": loss, "as_array": loss.numpy(), "as_float": 2.5}

    x, y = _data()
    model = _functional(Model2)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    w, b = _weights()
    model.set_weights([w, b])
    h = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ew, eb = _sgd_step(x, y, w, b, 0.05)
    np.testing.assert_allclose(model.get_weights()[0], ew, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], eb, rtol=1e-5, atol=1e-6)
    loss = float(np.mean((x @ w + b - y) ** 2))
    assert h.history["as_float"] == [2.5]
    np.testing.assert_allclose([h.history["loss"][0], h.history["as_array"][0]], [loss] * 2,
                               rtol=1e-5)
    assert all(type(v[0]) is float for v in h.history.values())


def test_zero_grad_resets_accumulated_gradients(backend):
    x, y = _data()
    model = _functional(keras.Model)
    w, b = _weights()
    model.set_weights([w, b])
    r = x @ w + b - y
    expected = 2.0 * x.T @ r / len(x)
    model.zero_grad()
    for _ in range(2):  # without zero_grad, a second backward adds to the first
        ops.mean(ops.square(model(x) - y)).backward()
    np.testing.assert_allclose(model.trainable_weights[0].value.grad, 2 * expected, rtol=1e-5)
    model.zero_grad()
    ops.mean(ops.square(model(x) - y)).backward()
    np.testing.assert_allclose(model.trainable_weights[0].value.grad, expected, rtol=1e-5)


def test_test_step_and_predict_step_overrides(backend):
    class Custom(keras.Model):
        def test_step(self, data):  # the guide's test_step
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def predict_step(self, data):
            return {"twice": self(data, training=False) * 2.0, "x": data}

    x, y = _data(12)
    model = _functional(Custom)
    model.compile(loss="mse", metrics=["mae"])  # no optimizer needed to evaluate
    w, b = _weights()
    model.set_weights([w, b])
    logs = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    pred = x @ w + b
    # Mean.update_state(loss) weighs each batch's mean loss alike (batches of 5, 5, 2)
    batch_mse = [np.mean((pred[i:i + 5] - y[i:i + 5]) ** 2) for i in (0, 5, 10)]
    np.testing.assert_allclose(logs["loss"], np.mean(batch_mse), rtol=1e-5)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(pred - y)), rtol=1e-5)
    out = model.predict(x, batch_size=5, verbose=0)
    np.testing.assert_allclose(out["twice"], 2 * pred, rtol=1e-5)
    np.testing.assert_array_equal(out["x"], x)


def test_compute_loss_override_with_own_tracker_and_metrics(backend):
    # Keras's ``compute_loss`` docstring example: no train_step override; fit's default step
    # calls the override, and the overridden ``metrics`` / ``reset_metrics`` give the logs.
    class MyModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def compute_loss(self, x, y, y_pred, sample_weight, training=True):
            loss = ops.mean((y_pred - y) ** 2) * 3.0
            self.loss_tracker.update_state(loss)
            return loss

        def reset_metrics(self):
            self.loss_tracker.reset_state()

        @property
        def metrics(self):
            return [self.loss_tracker]

    x, y = _data()
    model = _functional(MyModel)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w, b = _weights()
    model.set_weights([w, b])
    h = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    ew, eb = _sgd_step(x, y, w, b, 0.3)  # the loss is 3 x mse
    np.testing.assert_allclose(model.get_weights()[0], ew, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.history["loss"][0], 3 * np.mean((x @ w + b - y) ** 2),
                               rtol=1e-5)


def test_compute_metrics_override_adds_a_custom_metric(backend):
    class Model3(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.max_err = keras.metrics.Mean(name="max_err")

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            results = super().compute_metrics(x, y, y_pred, sample_weight)
            self.max_err.update_state(ops.max(ops.abs(y_pred - y)))
            results["max_err"] = self.max_err.result()
            return results

    x, y = _data()
    model = _functional(Model3)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=["mae"])
    w, b = _weights()
    model.set_weights([w, b])
    h = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    pred = x @ w + b
    err = np.abs(pred - y)
    np.testing.assert_allclose(h.history["max_err"][0], (err[:8].max() + err[8:].max()) / 2,
                               rtol=1e-5)
    np.testing.assert_allclose(h.history["mae"][0], err.mean(), rtol=1e-5)
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics", "max_err"]
    model.reset_metrics()
    assert float(model.max_err.result()) == 0.0 and float(model.metrics[0].result()) == 0.0


def test_non_finite_custom_step_is_undone(backend):
    class Bad(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            loss = ops.mean(ops.square(self(x) - y))
            loss.backward()
            grads = [v.grad * np.float32(np.inf) for v in self.trainable_weights]
            self.optimizer.apply(grads, self.trainable_weights)
            return {"loss": loss}

    model = _functional(Bad)
    model.compile(optimizer="adam")
    w = model.get_weights()
    model.fit(*_data(), batch_size=8, verbose=0)
    for got, exp in zip(model.get_weights(), w):
        np.testing.assert_array_equal(got, exp)


def test_default_steps_of_a_two_output_model_equal_the_built_in_ones(backend):
    # Overriding compute_metrics routes fit/evaluate through the default train_step /
    # test_step; their logs (per-output losses included) equal the fused step's.
    class Routed(keras.Model):
        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            return super().compute_metrics(x, y, y_pred, sample_weight)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    ya = rng.normal(size=(16, 1)).astype("float32")
    yb = rng.integers(0, 2, 16)
    models = []
    for cls in (Routed, keras.Model):
        i = keras.Input((3,))
        outs = [keras.layers.Dense(1, name="a")(i),
                keras.layers.Dense(2, activation="softmax", name="b")(i)]
        m = cls(i, outs)
        m.compile(keras.optimizers.SGD(0.1), loss=["mse", "sparse_categorical_crossentropy"],
                  metrics=[["mae"], ["accuracy"]])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    hs = [m.fit(x, [ya, yb], batch_size=8, shuffle=False, verbose=0).history for m in models]
    assert sorted(hs[0]) == sorted(hs[1]) == ["a_loss", "a_mae", "b_accuracy", "b_loss", "loss"]
    for k in hs[1]:
        np.testing.assert_allclose(hs[0][k], hs[1][k], rtol=1e-6)
    logs = [m.evaluate(x, [ya, yb], verbose=0, return_dict=True) for m in models]
    for k in logs[1]:
        np.testing.assert_allclose(logs[0][k], logs[1][k], rtol=1e-6)
