"""An explicit ``mask=`` given to a layer in the Functional API (a model input, or a list
``[None, mask]`` for Attention) is part of the graph, as in Keras 3: the model applies it, and
it survives ``.keras`` and ``.h5`` files both ways (fixtures made by Keras 3.15 with
``tests/fixtures/make_keras_mask_kwargs.py``). It used to be dropped without a word."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, layers

FIX = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
DATA = np.load(os.path.join(FIX, "mask_kwargs.npz"))


def _inputs(name):
    if name == "attention":
        return [DATA["q"], DATA["v"], DATA["mk"]]
    return [DATA["x"], DATA["mk"]]


def _build(name):
    if name == "attention":
        qi, vi, vmi = Input((3, 4)), Input((5, 4)), Input((5,), dtype="bool")
        return Model([qi, vi, vmi], layers.Attention()([qi, vi], mask=[None, vmi]))
    xi, mi = Input((5, 3)), Input((5,), dtype="bool")
    layer = layers.LSTM(4) if name == "lstm" else layers.GlobalAveragePooling1D()
    return Model([xi, mi], layer(xi, mask=mi))


@pytest.mark.parametrize("name", ["lstm", "pooled", "attention"])
def test_keras_files_with_mask_kwargs_predict_as_keras(name):
    model = gpunet.models.load_model(os.path.join(FIX, f"mask_kwargs_{name}.keras"),
                                     compile=False)
    np.testing.assert_allclose(np.asarray(model(_inputs(name))), DATA[name], atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "pooled", "attention"])
def test_explicit_mask_input_is_applied_and_saved(name, tmp_path):
    model = _build(name)
    if name != "lstm":  # no weights: Keras's numbers exactly
        np.testing.assert_allclose(np.asarray(model(_inputs(name))), DATA[name], atol=1e-5)
    ins = _inputs(name)
    out = np.asarray(model(ins))
    unmasked = np.asarray(model(ins[:-1] + [np.ones_like(ins[-1])]))
    assert not np.allclose(out, unmasked, atol=1e-4)  # the mask changes the result
    for ext in ("keras", "h5"):
        path = tmp_path / f"m.{ext}"
        model.save(path)
        again = gpunet.models.load_model(path, compile=False)
        np.testing.assert_allclose(np.asarray(again(ins)), out, atol=1e-6)


def test_written_node_kwargs_have_keras_3_form(tmp_path):
    # Keras 3 writes mask=[None, tensor] as [null, {"class_name": "__keras_tensor__", ...}]
    _build("attention").save(tmp_path / "a.keras")
    cfg = json.loads(zipfile.ZipFile(tmp_path / "a.keras").read("config.json"))
    node = [entry for entry in cfg["config"]["layers"]
            if entry["class_name"] == "Attention"][0]["inbound_nodes"][0]
    first, second = node["kwargs"]["mask"]
    assert first is None and second["class_name"] == "__keras_tensor__"
    assert second["config"]["dtype"] == "bool" and second["config"]["shape"] == [None, 5]
