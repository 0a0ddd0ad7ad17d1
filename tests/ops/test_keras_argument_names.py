"""``gpunet.ops`` takes Keras 3's argument names (keyword calls as Keras code writes them)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from gpunet import ops

X = np.array([1.0, 2.0, 3.0], "float32")
Y = np.array([3.0, 2.0, 1.0], "float32")
XI, YI = np.array([1, 2, 12]), np.array([3, 2, 5])


@pytest.mark.parametrize("name,kwargs,expected", [
    ("add", {"x1": X, "x2": Y}, X + Y),
    ("subtract", {"x1": X, "x2": Y}, X - Y),
    ("multiply", {"x1": X, "x2": Y}, X * Y),
    ("divide", {"x1": X, "x2": Y}, X / Y),
    ("power", {"x1": X, "x2": Y}, X ** Y),
    ("maximum", {"x1": X, "x2": Y}, np.maximum(X, Y)),
    ("minimum", {"x1": X, "x2": Y}, np.minimum(X, Y)),
    ("equal", {"x1": X, "x2": Y}, X == Y),
    ("greater_equal", {"x1": X, "x2": Y}, X >= Y),
    ("logical_xor", {"x1": X > 1, "x2": Y > 1}, (X > 1) ^ (Y > 1)),
    ("floor_divide", {"x1": X, "x2": Y}, X // Y),
    ("bitwise_and", {"x": XI, "y": YI}, XI & YI),
    ("left_shift", {"x": XI, "y": YI}, XI << YI),
    ("isin", {"x1": XI, "x2": YI, "invert": True}, ~np.isin(XI, YI)),
    ("isnan", {"x": X}, np.isnan(X)),
    ("bitwise_invert", {"x": XI}, ~XI),
    ("stack", {"x": [X, Y]}, np.stack([X, Y])),
    ("reshape", {"x": X, "newshape": (3, 1)}, X.reshape(3, 1)),
])
def test_keyword_calls_with_keras_names(name, kwargs, expected):
    out = ops.convert_to_numpy(getattr(ops, name)(**kwargs))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_signatures_show_keras_names_and_clashes_raise():
    assert list(inspect.signature(ops.equal).parameters) == ["x1", "x2"]
    assert list(inspect.signature(ops.bitwise_xor).parameters) == ["x", "y"]
    assert list(inspect.signature(ops.add).parameters) == ["x1", "x2"]
    with pytest.raises(TypeError, match="multiple values for argument 'x1'"):
        ops.equal(X, x1=Y)


def test_scatter_update_reductions():
    x = np.zeros((3, 2), "float32")
    idx = np.array([[0], [2], [0]])
    u = np.array([[1, 2], [3, 4], [5, 6]], "float32")
    ref = x.copy()
    np.add.at(ref, (idx[:, 0],), u)  # Keras's NumPy backend: np.add.at
    np.testing.assert_array_equal(ops.convert_to_numpy(
        ops.scatter_update(x, idx, u, reduction="add")), ref)
    replaced = ops.convert_to_numpy(ops.scatter_update(x, idx[1:], u[1:]))
    np.testing.assert_array_equal(replaced, [[5, 6], [0, 0], [3, 4]])
    with pytest.raises(NotImplementedError, match="'max'"):
        ops.scatter_update(x, idx, u, reduction="max")
    with pytest.raises(ValueError, match="unsupported reduction 'sum'"):
        ops.scatter_update(x, idx, u, reduction="sum")
