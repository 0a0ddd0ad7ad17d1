"""``KerasTensor`` operators and ops on symbolic float and integer inputs, as Keras 3.15 types
and computes them (fixture ``keras_tensor_ops.json`` from
``tests/fixtures/make_keras_keras_tensor.py``, cases in ``keras_tensor_cases.py``)."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import ops
from gpunet.layers.keras_tensor import KerasTensor
from gpunet.layers.op_dtypes import keras_dtype

HERE = pathlib.Path(__file__).parent.parent / "fixtures"
_spec = importlib.util.spec_from_file_location("kt_cases", HERE / "keras_tensor_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
FIX = json.loads((HERE / "keras_tensor_ops.json").read_text())


@pytest.mark.parametrize("dtype", sorted(cases.DATA))
@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_symbolic_op_as_keras(name, dtype, backend):
    ref = FIX[f"{name}-{dtype}"]
    x = gpunet.Input((4,), dtype=dtype)
    y = cases.CASES[name](x, ops)
    assert isinstance(y, KerasTensor)
    assert [list(y.shape), y.dtype] == [ref["shape"], ref["dtype"]]
    out = gpunet.Model(x, y).predict(cases.DATA[dtype], verbose=0)
    assert str(out.dtype) == ref["out_dtype"]
    np.testing.assert_allclose(out, np.asarray(ref["values"], out.dtype), rtol=1e-6)


def test_model_with_operators_saves_and_loads(tmp_path, backend):
    x = gpunet.Input((4,), dtype="int32")
    y = ops.where((x > 0) & (x < 5), x // 2, x % 3)
    m = gpunet.Model(x, [y, ops.mean(x, axis=-1)])
    path = str(tmp_path / "m.keras")
    m.save(path)
    m2 = gpunet.saving.load_model(path)
    data = cases.DATA["int32"]
    for a, b in zip(m.predict(data, verbose=0), m2.predict(data, verbose=0)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert [str(t.dtype) for t in m2.outputs] == ["int32", "float32"]


def test_equality_stays_identity_and_conversions_raise():
    x = gpunet.Input((4,))
    assert FIX["eq_is_identity"] and (x == 2) is False  # Keras 3 defines no __eq__
    assert x == x and {x: 1}[x] == 1  # hashable, usable as a dict key
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(x > 0)
    for convert, what in ((int, "an int"), (float, "a float"), (np.asarray, "a NumPy array")):
        with pytest.raises(ValueError, match=f"convert it to {what}"):
            convert(x)
    with pytest.raises(NotImplementedError, match="Iterating"):
        iter(x)


def test_keras_dtype_rule():
    # Keras 3 (JAX-like promotion): int32 mean/sqrt/divide -> float32, int32 sum/argmax ->
    # int32; a float64 or int64 input keeps the wide result
    assert keras_dtype("float64", ["int32"]) == "float32"
    assert keras_dtype("float64", ["float64"]) == "float64"
    assert keras_dtype("int64", ["int32"]) == "int32"
    assert keras_dtype("int64", ["int64"]) == "int64"
    assert keras_dtype("bool", ["float32"]) == "bool"
