"""Keras 3 files whose graphs hold operation nodes load and predict as Keras: every Functional
model with ``Embedding(mask_zero=True)`` has one (the mask's ``NotEqual``), as has any model
built with ``keras.ops`` on symbolic tensors (``Mean`` with its ``axis``, ``Multiply`` with a
constant, ``GetItem`` with slices). Fixtures made by Keras 3.15:
``tests/fixtures/make_keras_op_nodes.py``. Such files failed to load ("Unknown layer:
'NotEqual'")."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet
from gpunet.models.functional_config import _KerasOp

FIX = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
DATA = np.load(os.path.join(FIX, "op_nodes.npz"))


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("name", ["text", "attention", "ops", "slices", "transformer"])
def test_keras_files_with_op_nodes_predict_as_keras(name, ext, tmp_path):
    path = os.path.join(FIX, f"op_nodes_{name}.{ext}")
    model = gpunet.models.load_model(path, compile=False)
    x = DATA["feats"] if name == "slices" else DATA["ids"]
    out = np.asarray(model(x))
    np.testing.assert_allclose(out, DATA[name], atol=1e-5)  # masks included, as Keras's
    model.save(tmp_path / "again.keras")  # and gpunet writes them back
    again = gpunet.models.load_model(tmp_path / "again.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again(x)), out, atol=1e-6)


def test_op_node_names_and_unknown_ops():
    op = _KerasOp({"module": "keras.src.ops.numpy", "class_name": "NotEqual",
                   "config": {"name": "not_equal"}, "name": "not_equal"})
    assert op.op == "not_equal" and op.exists() and op.kwargs == {}
    op = _KerasOp({"module": "keras.src.ops.image", "class_name": "ExtractPatches",
                   "config": {"name": "p", "size": 2, "strides": None}})
    assert op.op == "image.extract_patches" and op.kwargs == {"size": 2}
    missing = _KerasOp({"module": "keras.src.ops.numpy", "class_name": "NoSuchOp",
                        "config": {"name": "x"}, "name": "x"})
    with pytest.raises(ValueError, match="operation node 'x'.*keras.ops.no_such_op"):
        missing([], {})


def _op_entries(path):
    import json
    import zipfile

    cfg = json.loads(zipfile.ZipFile(path).read("config.json"))
    out = []
    for e in cfg["config"]["layers"]:
        if str(e.get("module", "")).startswith("keras.src.ops"):
            conf = {k: v for k, v in e["config"].items() if k != "name"}
            node = e["inbound_nodes"][0]
            consts = [a for a in node["args"] if not isinstance(a, dict)
                      or a.get("class_name") != "__keras_tensor__"]
            out.append((e["module"], e["class_name"], json.dumps(conf, sort_keys=True),
                        json.dumps(consts, sort_keys=True), json.dumps(node["kwargs"])))
    return sorted(out)


def test_gpunet_writes_op_nodes_as_keras_3_does(tmp_path):
    # the graph of op_nodes_slices.keras, built in gpunet: the same operation entries
    f = gpunet.Input((7, 4))
    picked = f[:, 0] + gpunet.ops.sum(f[..., 1:3], axis=(1, 2))[:, None]
    model = gpunet.Model(f, gpunet.layers.Dense(2)(picked))
    model.save(tmp_path / "g.keras")
    assert _op_entries(tmp_path / "g.keras") == _op_entries(
        os.path.join(FIX, "op_nodes_slices.keras"))
    again = gpunet.models.load_model(tmp_path / "g.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again(DATA["feats"])),
                               np.asarray(model(DATA["feats"])), atol=1e-6)


def test_positional_constructor_arguments_go_to_the_config(tmp_path):
    i = gpunet.Input((5, 3))
    model = gpunet.Model(i, -gpunet.ops.mean(i, 1) * 2.0)  # axis given positionally
    model.save(tmp_path / "m.keras")
    entries = {e[1]: e for e in _op_entries(tmp_path / "m.keras")}
    assert entries["Mean"][2] == '{"axis": 1, "keepdims": false}' and entries["Mean"][3] == "[]"
    assert entries["Multiply"][3] == "[2.0]" and "Negative" in entries
    x = np.random.default_rng(0).random((2, 5, 3)).astype("float32")
    again = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again(x)), -x.mean(1) * 2.0, rtol=1e-6)


def test_constant_arrays_are_written_as_keras_tensors(tmp_path):
    import json
    import zipfile

    i = gpunet.Input((3,))
    model = gpunet.Model(i, i + np.array([1.0, 2.0, 3.0], "float32"))
    model.save(tmp_path / "c.keras")
    cfg = json.loads(zipfile.ZipFile(tmp_path / "c.keras").read("config.json"))
    add = [e for e in cfg["config"]["layers"] if e["class_name"] == "Add"][0]
    const = add["inbound_nodes"][0]["args"][1]
    assert const == {"class_name": "__tensor__",
                     "config": {"value": [1.0, 2.0, 3.0], "dtype": "float32"}}
    again = gpunet.models.load_model(tmp_path / "c.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again(np.zeros((2, 3), "float32"))),
                               [[1, 2, 3], [1, 2, 3]])
