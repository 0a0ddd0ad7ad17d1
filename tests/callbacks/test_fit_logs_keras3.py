"""What callbacks receive and what fit / evaluate / predict print, against Keras 3.15
(fixture ``fit_logs.json`` from ``tests/fixtures/make_keras_fit_logs.py``, same model, fixed
weights and data): every hook's index, log keys in Keras's (sorted) order and predict's
per-``steps_per_execution`` outputs; History / evaluate / train_on_batch key order; the
progress text at verbose 1 and 2 under a frozen clock."""

from __future__ import annotations

import contextlib
import io
import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import Callback
from gpunet.callbacks import progbar as progbar_mod
from gpunet.callbacks.base import pythonify_logs

HERE = pathlib.Path(__file__).parent.parent / "fixtures"
FIX = json.loads((HERE / "fit_logs.json").read_text())
_NO_INDEX = {"on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
             "on_predict_begin", "on_predict_end"}
HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end"]


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x.sum(1) > 0).astype("float32")[:, None]
    return x, y


def _weights():
    k1 = (np.arange(12, dtype="float32").reshape(4, 3) - 5.5) / 10.0
    b1 = np.array([0.1, -0.2, 0.05], "float32")
    k2 = np.array([[0.3], [-0.4], [0.25]], "float32")
    b2 = np.array([0.05], "float32")
    return [k1, b1, k2, b2]


def _model(spe: int = 1):
    m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(3, activation="relu"),
                           gpunet.layers.Dense(1, activation="sigmoid")])
    m.set_weights(_weights())
    m.compile("sgd", "binary_crossentropy", metrics=["mae", "accuracy"],
              steps_per_execution=spe)
    return m


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def record(self, name, index, logs):
        assert isinstance(logs, dict), (name, logs)
        shape = list(np.asarray(logs["outputs"]).shape) if "outputs" in logs else None
        self.events.append([name, index, list(logs), shape])


def _hook(name):
    if name in _NO_INDEX:
        return lambda self, logs=None: self.record(name, None, logs)
    return lambda self, index, logs=None: self.record(name, index, logs)


for _n in HOOKS:
    setattr(Recorder, _n, _hook(_n))


@pytest.mark.parametrize("spe", ["1", "3"])
def test_hooks_indices_keys_and_outputs_as_keras(spe, backend):
    x, y = _data()
    m = _model(int(spe))
    rec = Recorder()
    m.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[rec],
          validation_data=(x[:20], y[:20]))
    m.evaluate(x, y, batch_size=8, verbose=0, callbacks=[rec])
    m.predict(x, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.events == FIX["hooks"][spe]


def test_log_orders_and_values_as_keras(backend):
    x, y = _data()
    m = _model()
    h = m.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
              validation_data=(x[:20], y[:20]))
    assert list(h.history) == FIX["history_keys"]
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == FIX["evaluate_dict_keys"]
    assert all(type(v) is float for v in d.values())
    for k, v in FIX["evaluate_dict"].items():
        assert d[k] == pytest.approx(v, rel=1e-5, abs=1e-6)
    # the list keeps `metrics_names` order (loss first), as Keras's
    np.testing.assert_allclose(m.evaluate(x, y, verbose=0), FIX["evaluate_list"], rtol=1e-5)
    assert list(m.train_on_batch(x, y, return_dict=True)) == FIX["train_on_batch_keys"]
    assert list(m.test_on_batch(x, y, return_dict=True)) == FIX["train_on_batch_keys"]


@pytest.mark.parametrize("what", ["fit", "evaluate", "predict"])
@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_text_as_keras(what, verbose, monkeypatch, backend):
    monkeypatch.setattr(progbar_mod.time, "time", lambda: 0.0)
    x, y = _data()
    m = _model()
    runs = {"fit": lambda: m.fit(x, y, batch_size=8, epochs=2, verbose=verbose,
                                 shuffle=False, validation_data=(x[:20], y[:20])),
            "evaluate": lambda: m.evaluate(x, y, batch_size=8, verbose=verbose),
            "predict": lambda: m.predict(x, batch_size=8, verbose=verbose)}
    for name in ("fit", "evaluate", "predict"):  # Keras ran them in this order on one model
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            runs[name]()
        if name == what:
            break
    assert buf.getvalue() == FIX["text"][f"{what}_v{verbose}"]


def test_verbose_0_prints_nothing(capsys):
    x, y = _data()
    m = _model()
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_pythonify_logs_as_keras():
    # keras.src.utils.python_utils.pythonify_logs: sorted keys, nested dicts merged,
    # scalars as Python floats, arrays kept
    arr = np.arange(3.0)
    out = pythonify_logs({"loss": np.float32(0.5), "b": {"z": 1, "a": np.array(2.0)},
                          "outputs": arr})
    assert list(out) == ["a", "z", "loss", "outputs"]
    assert out["loss"] == 0.5 and type(out["loss"]) is float
    assert type(out["z"]) is float and out["outputs"] is arr
    assert pythonify_logs(None) == {}


def test_callback_additions_reach_the_bar(monkeypatch):
    # Keras's ProgbarLogger sits after the other callbacks and sees what they added to the
    # epoch logs (ReduceLROnPlateau's learning_rate)
    monkeypatch.setattr(progbar_mod.time, "time", lambda: 0.0)
    x, y = _data()
    m = _model()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        h = m.fit(x, y, batch_size=25, epochs=1, verbose=2,
                  callbacks=gpunet.callbacks.ReduceLROnPlateau(monitor="loss"))
    assert "learning_rate: 0.0100" in buf.getvalue()
    assert "learning_rate" in h.history


def test_multi_output_predict_groups_outputs_per_execution(backend):
    # Keras 3.15: two outputs, 20 samples, batch 4, steps_per_execution=2 -> batch ends 1, 3,
    # 5 with lists of (8, 2)/(8, 1), (8, 2)/(8, 1), (4, 2)/(4, 1)
    seen = []

    class R(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append((batch, [tuple(a.shape) for a in logs["outputs"]]))

    i = gpunet.Input((3,))
    m = gpunet.Model(i, [gpunet.layers.Dense(2)(i), gpunet.layers.Dense(1)(i)])
    m.compile("sgd", "mse", steps_per_execution=2)
    p = m.predict(np.ones((20, 3), "float32"), batch_size=4, verbose=0, callbacks=[R()])
    assert seen == [(1, [(8, 2), (8, 1)]), (3, [(8, 2), (8, 1)]), (5, [(4, 2), (4, 1)])]
    assert [a.shape for a in p] == [(20, 2), (20, 1)]
