"""Subclassed ``Model``: layers, fit/evaluate/predict, summary, saving in both formats with
Keras 3's paths, Keras-written weights, ``CustomModel(inputs, outputs)``, and the Keras 3
checks of ``save`` and ``compile``.

Reference files come from Keras 3.15 (``tests/fixtures/make_keras_subclassing.py``); the
optional last test has Keras itself load gpunet's files (``$GPUNET_KERAS_PYTHON`` or this
Python, skipped where neither has Keras and JAX).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import gpunet
import gpunet.saving
from gpunet import layers

HERE = os.path.join(os.path.dirname(__file__), "..", "fixtures")
sys.path.insert(0, HERE)
import subclass_models as sm  # noqa: E402

_, _, SmallModel = sm.define(gpunet)
gpunet.saving.register_keras_serializable(package="tests")(SmallModel)


def _ref() -> dict:
    with open(os.path.join(HERE, "subclass_counts.json")) as f:
        return json.load(f)


def _io():
    return np.load(os.path.join(HERE, "subclass_io.npz"))


def _layout(path: str) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if name.endswith("/vars") and len(obj):
                out[name[:-5]] = [list(obj[k].shape) for k in sorted(obj.keys(), key=int)]
        f.visititems(visit)
    return out


def _data(n=64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.stack([x[:, 0] + x[:, 1], x[:, 2] - x[:, 3], x.sum(1)], 1).astype("float32")
    return x, y


def _trained():
    gpunet.utils.set_random_seed(0)
    model = SmallModel()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = _data()
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    return model, x, y, hist


def test_layers_weights_and_parameter_count_as_keras(backend):
    model = SmallModel()
    assert [type(lyr).__name__ for lyr in model.layers] == [
        "Dense", "Dense", "BatchNormalization", "Dense", "Dense"]
    model(np.zeros((2, 4), "float32"))
    assert model.count_params() == _ref()["small_model_params"] == 189
    assert len(model.trainable_weights) == 10 and len(model.non_trainable_weights) == 2
    assert model.get_layer(index=3) is model.out


def test_fit_evaluate_predict_and_summary(backend, capsys):
    model, x, y, hist = _trained()
    losses = hist.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert model.optimizer.iterations == 3 * 4
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(res) == {"loss", "mae"}
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(res["loss"], np.mean((pred - y) ** 2), rtol=1e-4)
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "small_model"' in text and "batch_normalization" in text
    assert "Trainable params: 173 " in text and "Non-trainable params: 16 " in text


def test_keras_archive_round_trip_gives_identical_predictions(backend, tmp_path):
    model, x, y, _ = _trained()
    path = str(tmp_path / "m.keras")
    model.save(path)
    back = gpunet.models.load_model(path)
    assert type(back) is SmallModel and back.units == 8
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    back.fit(x, y, epochs=1, batch_size=16, verbose=0)  # optimizer state restored, trains on
    assert back.optimizer.iterations == 3 * 4 + 4
    # custom_objects works without registration too
    back2 = gpunet.models.load_model(path, custom_objects={"SmallModel": SmallModel})
    np.testing.assert_array_equal(back2.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_weights_files_round_trip(backend, tmp_path, name):
    model, x, _, _ = _trained()
    path = str(tmp_path / name)
    model.save_weights(path)
    fresh = SmallModel()
    fresh(x[:1])
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_file_paths_are_keras_paths(backend, tmp_path):
    # Keras 3.15 stores `out` (sorted after the `layers` property) and `_side` (private,
    # visited last) under layers/dense_2 and layers/dense_3
    model = SmallModel()
    model(np.zeros((1, 4), "float32"))
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    keras_layout = {k: v for k, v in _ref()["model_layout"].items() if v}
    assert _layout(path) == keras_layout


def test_loads_keras_written_subclassed_model_weights(backend):
    io = _io()
    model = SmallModel()
    model(io["x"][:1])
    model.load_weights(os.path.join(HERE, "subclass_model.weights.h5"))
    np.testing.assert_allclose(model.predict(io["x"], verbose=0), io["p_model"], rtol=1e-5,
                               atol=1e-6)


def test_transformer_paths_and_keras_weights(backend, tmp_path):
    io = _io()
    model = sm.transformer_classifier(gpunet, **sm.SMALL)
    model.load_weights(os.path.join(HERE, "subclass_transformer.weights.h5"))
    tokens = io["tokens"].astype("float32")
    np.testing.assert_allclose(model.predict(tokens, verbose=0), io["p_transformer"],
                               rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "t.weights.h5")
    model.save_weights(path)
    keras_layout = {k: v for k, v in _ref()["transformer_layout"].items() if v}
    assert _layout(path) == keras_layout  # layers/transformer_block/att/query_dense, ...
    arch = str(tmp_path / "t.keras")
    custom = {"TransformerBlock": type(model.layers[2]),
              "TokenAndPositionEmbedding": type(model.layers[1])}
    model.save(arch)
    back = gpunet.models.load_model(arch, custom_objects=custom, compile=False)
    np.testing.assert_array_equal(back.predict(tokens, verbose=0),
                                  model.predict(tokens, verbose=0))


def test_subclass_constructed_with_inputs_and_outputs_is_functional(backend):
    class CustomModel(gpunet.Model):
        def extra(self):
            return "extra"

    inp = gpunet.Input((3,))
    out = layers.Dense(2)(inp)
    m = CustomModel(inp, out)
    assert isinstance(m, gpunet.models.Functional) and isinstance(m, CustomModel)
    assert m.extra() == "extra" and [type(lyr).__name__ for lyr in m.layers] == [
        "InputLayer", "Dense"]

    class Wrapped(gpunet.Model):
        def __init__(self, units):
            inp = gpunet.Input((3,))
            super().__init__(inputs=inp, outputs=layers.Dense(units)(inp))

    w = Wrapped(4)
    assert isinstance(w, gpunet.models.Functional)
    assert w.predict(np.ones((2, 3)), verbose=0).shape == (2, 4)


def test_model_own_weights_and_add_loss_enter_training(backend):
    class WithLoss(gpunet.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="zeros")

        def build(self, input_shape):
            self.offset = self.add_weight(shape=(1,), initializer="zeros", name="offset")

        def call(self, x):
            y = self.dense(x) + self.offset
            self.add_loss(gpunet.ops.mean(y * y) * 0.0 + 1.0)  # a constant extra loss of 1
            return y

    m = WithLoss()
    m.compile("sgd", "mse")
    x = np.ones((4, 2), "float32")
    y = np.zeros((4, 1), "float32")
    loss = m.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(1.0)  # mse 0 + the add_loss term, as Keras adds it
    assert [w.name for w in m.weights] == ["offset", "kernel", "bias"]
    assert len(m.losses) == 1


def test_save_without_a_known_extension_raises_as_keras(tmp_path):
    model = SmallModel()
    model(np.zeros((1, 4), "float32"))
    msg = (r"Invalid filepath extension for saving\. Please add either a `\.keras` extension "
           r"for the native Keras format \(recommended\) or a `\.h5` extension\.")
    with pytest.raises(ValueError, match=msg):
        model.save(str(tmp_path / "noext"))
    with pytest.raises(ValueError, match="`save_format` argument is deprecated"):
        model.save(str(tmp_path / "m.tf"), save_format="tf")
    assert not os.listdir(tmp_path)


def test_compile_detects_tf_keras_2_positional_order():
    model = SmallModel()
    with pytest.raises(ValueError, match=r"third positional.*loss_weights.*metrics="):
        model.compile("adam", "mse", ["accuracy"])
    with pytest.raises(ValueError, match=r"optimizer identifier: 'mse'.*loss"):
        model.compile("mse", "adam")
    model.compile("adam", "mse", [1.0])  # numbers are loss weights, fine


_KERAS = os.environ.get("GPUNET_KERAS_PYTHON") or (
    sys.executable if importlib.util.find_spec("keras") and importlib.util.find_spec("jax")
    else None)
_LOAD = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, sys.argv[2])
import numpy as np, keras
import subclass_models as sm
_, _, SmallModel = sm.define(keras)
d = sys.argv[1]
io = np.load(f"{d}/io.npz")
m = SmallModel()
m(io["x"][:1])
m.load_weights(f"{d}/w.weights.h5")
np.testing.assert_allclose(m.predict(io["x"], verbose=0), io["p"], rtol=1e-5, atol=1e-6)
t = sm.transformer_classifier(keras, **sm.SMALL)
t.load_weights(f"{d}/t.weights.h5")
np.testing.assert_allclose(t.predict(io["tokens"], verbose=0), io["pt"], rtol=1e-5, atol=1e-6)
print("ok")
"""


@pytest.mark.slow
@pytest.mark.skipif(_KERAS is None, reason="needs keras and jax here or in $GPUNET_KERAS_PYTHON")
def test_keras_loads_gpunet_weights_files(tmp_path):
    model, x, _, _ = _trained()
    model.save_weights(str(tmp_path / "w.weights.h5"))
    gpunet.utils.set_random_seed(3)
    t = sm.transformer_classifier(gpunet, **sm.SMALL)
    tokens = _io()["tokens"].astype("float32")
    t.save_weights(str(tmp_path / "t.weights.h5"))
    np.savez(tmp_path / "io.npz", x=x, p=model.predict(x, verbose=0), tokens=tokens,
             pt=t.predict(tokens, verbose=0))
    done = subprocess.run([_KERAS, "-c", _LOAD, str(tmp_path), HERE], capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, KERAS_BACKEND="jax"))
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
