"""Keras 3 callback details of fit / evaluate / predict: one callback without a list,
``logs`` a dict in every hook, batch hooks once per ``steps_per_execution`` steps, and
``jit_compile`` resolved as Keras resolves it for a model it cannot compile.

The hook sequences below were recorded from Keras 3.15 (JAX backend) with the same data
sizes: 16 training samples, batch 2, ``steps_per_execution=3``, 10 validation samples."""

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.callbacks import Callback


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def _add(self, name, *args):
        *index, logs = args
        assert isinstance(logs, dict), (name, logs)
        self.events.append((name, *index, sorted(logs)))

    def on_train_begin(self, logs=None): self._add("train_begin", logs)
    def on_train_end(self, logs=None): self._add("train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._add("epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._add("epoch_end", epoch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._add("tb", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._add("te", batch, logs)
    def on_test_begin(self, logs=None): self._add("test_begin", logs)
    def on_test_end(self, logs=None): self._add("test_end", logs)
    def on_test_batch_begin(self, batch, logs=None): self._add("vb", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._add("ve", batch, logs)
    def on_predict_begin(self, logs=None): self._add("predict_begin", logs)
    def on_predict_end(self, logs=None): self._add("predict_end", logs)
    def on_predict_batch_begin(self, batch, logs=None): self._add("pb", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._add("pe", batch, logs)


def _model(**compile_kw):
    m = gpunet.Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile("sgd", "mse", metrics=["mae"], **compile_kw)
    return m


X = np.ones((16, 3), "float32")
Y = np.ones((16, 1), "float32")
M = ["loss", "mae"]


def test_single_callback_and_logs_dicts_in_every_hook(backend):
    m = _model()
    rec = Recorder()
    m.fit(X, Y, batch_size=8, epochs=1, verbose=0, callbacks=rec,
          validation_data=(X[:4], Y[:4]))
    assert rec.events == [
        ("train_begin", []), ("epoch_begin", 0, []), ("tb", 0, []), ("te", 0, M),
        ("tb", 1, []), ("te", 1, M), ("test_begin", []), ("vb", 0, []), ("ve", 0, M),
        ("test_end", M), ("epoch_end", 0, M + ["val_loss", "val_mae"]),
        ("train_end", M + ["val_loss", "val_mae"])]  # Keras: the last epoch's logs
    rec.events.clear()
    m.evaluate(X, Y, batch_size=16, verbose=0, callbacks=rec)
    m.predict(X, batch_size=16, verbose=0, callbacks=rec)
    assert rec.events == [("test_begin", []), ("vb", 0, []), ("ve", 0, M), ("test_end", M),
                          ("predict_begin", []), ("pb", 0, []), ("pe", 0, ["outputs"]),
                          ("predict_end", [])]


def test_callbacks_must_be_callbacks():
    with pytest.raises(TypeError, match="`callbacks` must"):
        _model().fit(X, Y, verbose=0, callbacks="early_stopping")
    with pytest.raises(TypeError, match="`callbacks` must hold Callback"):
        _model().fit(X, Y, verbose=0, callbacks=[object()])


def test_steps_per_execution_batch_hooks_as_keras(backend):
    m = _model(steps_per_execution=3)
    rec = Recorder()
    m.fit(X, Y, batch_size=2, epochs=1, verbose=0, callbacks=[rec],
          validation_data=(X[:10], Y[:10]))
    batch = [e[:2] for e in rec.events if e[0] in ("tb", "te", "vb", "ve")]
    # Keras 3.15: train begin 0, 3, 6 / end 2, 5, 8 (8 batches); validation begin 0, 3 /
    # end 2, 5 (5 batches) -- the last, shorter group ends at first + 3 - 1
    assert batch == [("tb", 0), ("te", 2), ("tb", 3), ("te", 5), ("tb", 6), ("te", 8),
                     ("vb", 0), ("ve", 2), ("vb", 3), ("ve", 5)]
    assert m.optimizer.iterations == 8  # every step still runs
    rec.events.clear()
    m.evaluate(X[:10], Y[:10], batch_size=2, verbose=0, callbacks=[rec])
    m.predict(X[:10], batch_size=2, verbose=0, callbacks=[rec])
    batch = [e[:2] for e in rec.events if e[0] in ("vb", "ve", "pb", "pe")]
    assert batch == [("vb", 0), ("ve", 2), ("vb", 3), ("ve", 5),
                     ("pb", 0), ("pe", 2), ("pb", 3), ("pe", 5)]


def test_steps_per_execution_gives_the_same_training(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    a, b = _model(), _model(steps_per_execution=4)
    b.set_weights(a.get_weights())
    ha = a.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert ha.history == hb.history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("value", [False, "auto"])
def test_jit_compile_resolves_to_eager_steps(value):
    m = _model(jit_compile=value)
    assert m.jit_compile is False  # Keras resolves "auto" for a model it cannot compile
    m.fit(X, Y, verbose=0)


def test_jit_compile_true_warns_as_keras_and_proceeds_eagerly():
    with pytest.warns(UserWarning, match=r"Model doesn't support `jit_compile=True`\. "
                                         r"Proceeding with `jit_compile=False`\."):
        m = _model(jit_compile=True)
    assert m.jit_compile is False
    m.fit(X, Y, verbose=0)


@pytest.mark.parametrize("kw,match", [({"steps_per_execution": 0}, "steps_per_execution"),
                                      ({"steps_per_execution": 1.5}, "steps_per_execution"),
                                      ({"jit_compile": "xla"}, "jit_compile")])
def test_bad_execution_options(kw, match):
    with pytest.raises(ValueError, match=f"`{match}`"):
        _model(**kw)
