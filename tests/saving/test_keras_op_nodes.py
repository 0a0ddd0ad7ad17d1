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
@pytest.mark.parametrize("name", ["text", "attention", "ops", "slices"])
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
