"""``training=`` given to a layer while building a Functional graph is kept in the graph, as in
Keras 3: it applies when the model runs with ``training=None`` (a direct ``model(x)``), and
``fit``, ``predict`` or an explicit ``model(x, training=...)`` override it. Monte-Carlo
dropout (``Dropout(rate)(x, training=True)``) thus stays on in ``model(x)``. The rule and the
written form are those of Keras 3.15 (``tests/fixtures/make_keras_graph_training.py``)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

import gpunet
from gpunet import Input, Model, Sequential, layers

FIX = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
X = np.ones((8, 10), "float32")


def _dropped(out) -> bool:
    return not np.allclose(np.asarray(out), X)


def test_dropout_training_true_in_graph_is_monte_carlo_dropout(tmp_path):
    i = Input((10,))
    model = Model(i, layers.Dropout(0.5)(i, training=True))
    assert _dropped(model(X))  # training=None: the graph's True
    assert not _dropped(model(X, training=False))  # an explicit argument wins
    assert not _dropped(model.predict(X, verbose=0))  # predict passes False, as Keras
    for ext in ("keras", "h5"):
        model.save(tmp_path / f"m.{ext}")
        again = gpunet.models.load_model(tmp_path / f"m.{ext}", compile=False)
        assert _dropped(again(X)) and not _dropped(again(X, training=False))
    cfg = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
    node = [e for e in cfg["config"]["layers"] if e["class_name"] == "Dropout"][0]
    assert node["inbound_nodes"][0]["kwargs"] == {"training": True}  # Keras 3's form


def test_training_false_in_graph_and_outer_training():
    images = np.random.default_rng(0).random((32, 4, 4, 1)).astype("float32")
    i = Input((4, 4, 1))
    model = Model(i, layers.RandomFlip("horizontal", seed=1)(i, training=False))
    np.testing.assert_array_equal(np.asarray(model(images)), images)
    assert not np.allclose(np.asarray(model(images, training=True)), images)


def test_nested_model_called_with_training_true():
    inner = Sequential([Input((10,)), layers.Dropout(0.5)])
    i = Input((10,))
    model = Model(i, inner(i, training=True))
    assert _dropped(model(X)) and not _dropped(model(X, training=False))


def test_training_is_recorded_only_when_given():
    i = Input((10,))
    given, absent = layers.Dense(3), layers.Dense(3)
    Model(i, [given(i, training=True), absent(i)])
    assert given._inbound_nodes[0].call_kwargs == {"training": True}  # Keras writes it too
    assert absent._inbound_nodes[0].call_kwargs == {}


def test_keras_file_with_training_true_in_graph():
    model = gpunet.models.load_model(os.path.join(FIX, "graph_training.keras"), compile=False)
    out = np.asarray(model(X))
    kept = out != 0
    assert 0 < kept.sum() < X.size  # dropped some, kept some
    np.testing.assert_allclose(out[kept], 2.0)  # identity Dense, kept values scaled by 1/0.5
    np.testing.assert_allclose(np.asarray(model(X, training=False)), X)
