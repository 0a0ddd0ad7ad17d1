"""Tensor's Python and NumPy protocols and ``Variable.assign``/``assign_add``/``assign_sub``."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import ops
from gpunet.autograd import Tensor, Variable
from gpunet.autograd.flat import pack


def _t(backend, a, **kw):
    return Tensor(backend.asarray(np.asarray(a)), **kw)


def test_numpy_conversion(backend):
    t = _t(backend, [[1.0, 2.0], [3.0, 4.0]])
    if backend.name == "numpy":
        a = np.asarray(t)
        assert a.dtype == np.float64 and a.shape == (2, 2) and a[1, 0] == 3.0
        assert np.asarray(t, dtype="float32").dtype == np.float32
        assert np.array(t, copy=True) is not t.data
    else:  # no hidden device-to-host copy: explicit conversions only, as CuPy
        with pytest.raises(TypeError, match="numpy"):
            np.asarray(t)
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(ops.convert_to_numpy(t), [[1, 2], [3, 4]])


def test_comparisons_give_bool_tensors_without_gradient(backend):
    a = _t(backend, [1.0, 2.0, 3.0], requires_grad=True)
    for got, exp in ((a == 2.0, [0, 1, 0]), (a != 2.0, [1, 0, 1]), (a < 2.0, [1, 0, 0]),
                     (a <= 2.0, [1, 1, 0]), (a > 2.0, [0, 0, 1]), (a >= 2.0, [0, 1, 1])):
        assert isinstance(got, Tensor) and got.dtype == bool and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), np.array(exp, bool))
    assert isinstance(hash(a), int)  # tensors stay hashable (identity)
    assert {a: 1}[a] == 1
    assert (a == None) is False and (a != None) is True  # noqa: E711  identity, as NumPy


def test_scalar_protocols(backend):
    s = _t(backend, 2.5)
    i = _t(backend, np.int64(3))
    assert bool(s) and float(s) == 2.5 and int(s) == 2 and f"{s:.3f}" == "2.500"
    assert [10, 11, 12, 13][i] == 13 and range(5)[i] == 3
    with pytest.raises(TypeError, match="integer"):
        [1, 2][s]
    with pytest.raises(ValueError, match="ambiguous"):
        bool(_t(backend, [1.0, 2.0]))
    with pytest.raises(TypeError):
        len(s)


def test_methods_and_iteration(backend):
    x = _t(backend, [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], requires_grad=True)
    assert x.shape == (2, 3) and isinstance(x.shape, tuple)
    np.testing.assert_allclose(x.astype("float32").numpy(), x.numpy())
    assert x.astype("float32").dtype == np.float32
    np.testing.assert_allclose(x.max(axis=1).numpy(), [3, 5])
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [2, 1])
    np.testing.assert_allclose(x.transpose().numpy(), x.numpy().T)
    np.testing.assert_allclose(x.flatten().numpy(), x.numpy().ravel())
    rows = list(x)
    assert len(rows) == 2 and isinstance(rows[0], Tensor)
    (rows[1] * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0, 0], [2, 2, 2]])
    np.testing.assert_allclose((x % 4.0).numpy(), np.mod(x.numpy(), 4.0))
    np.testing.assert_allclose((x // 4.0).numpy(), np.floor_divide(x.numpy(), 4.0))
    assert x.device == backend.device


def test_variable_assign_family_writes_into_the_flat_buffer(backend):
    a = Variable(backend.asarray(np.zeros((2, 2), np.float32)), name="a")
    b = Variable(backend.asarray(np.ones(3, np.float32)), name="b")
    group = pack([a, b])[0]
    assert a.assign(np.full((2, 2), 2.0)) is a
    assert a.assign_add(np.ones((2, 2))) is a and b.assign_sub(0.5) is b
    a.assign_add(Tensor(backend.asarray(np.array([1.0, 0.0], np.float32))))  # broadcasts
    np.testing.assert_allclose(backend.to_numpy(group.data), [4, 3, 4, 3, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="'a'.assign_add"):
        a.assign_add(np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        a.assign(np.ones(4))
    assert a.value is a and isinstance(a.numpy(), np.ndarray)
    np.testing.assert_allclose((a * 2 + b[0]).numpy(), 2 * a.numpy() + 0.5)


def test_variable_keras_constructor(backend):
    v = gpunet.Variable(initializer="ones", shape=(2, 3), name="w")
    assert v.shape == (2, 3) and v.dtype == np.float32 and v.numpy().sum() == 6
    w = gpunet.Variable(gpunet.initializers.Constant(0.5), (2,), "float64", trainable=False)
    assert w.dtype == np.float64 and not w.trainable and w.numpy().tolist() == [0.5, 0.5]
    assert gpunet.Variable([1.0, 2.0]).dtype == np.float32
    assert gpunet.Variable(np.zeros(2), name="z").name == "z"
    with pytest.raises(ValueError, match="shape"):
        gpunet.Variable(initializer="zeros", name="q")
    with pytest.raises(ValueError, match="shape"):
        gpunet.Variable(np.zeros(3), shape=(4,))
