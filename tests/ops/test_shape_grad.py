"""Values and float64 finite-difference gradients of the shape ops (``gpunet.ops.shape_ops``)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _value(backend, fn, *arrays):
    return backend.to_numpy(fn(*[Tensor(backend.asarray(a)) for a in arrays]).data)


@pytest.mark.parametrize("shape", [(6, 4), (3, -1), (2, 2, 6), (24,)], ids=str)
def test_reshape(backend, shape):
    x = _x(2, 3, 4)
    f = lambda t: ops.reshape(t, shape)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), x.reshape(shape))
    check_grad(f, [x], backend=backend)


@pytest.mark.parametrize("axes", [None, (0, 2, 1), (2, 0, 1), (1, 0, 2)], ids=str)
def test_transpose(backend, axes):
    x = _x(2, 3, 4)
    f = lambda t: ops.transpose(t, axes)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), np.transpose(x, axes))
    check_grad(f, [x], backend=backend)


KEYS = {
    "int": 1,
    "negative_int": -1,
    "slice": slice(1, 3),
    "step_slice": slice(None, None, -2),
    "tuple": (slice(None), 2),
    "ellipsis_newaxis": (Ellipsis, None, slice(0, 2)),
    "int_array_repeats": np.array([0, 2, 0, 0]),
    "list_repeats": [3, 3, 1],
    "2d_int_array": np.array([[0, 1], [1, 1]]),
    "mixed_array_slice": (np.array([1, 1, 0]), slice(1, 3)),
    "paired_arrays": (np.array([0, 0, 2]), np.array([1, 1, 3])),
    "bool_mask": np.array([True, False, True, True]),
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem(backend, name):
    key = KEYS[name]
    x = _x(4, 5)
    def on_device(k):
        return backend.asarray(k) if isinstance(k, np.ndarray) else k

    dev_key = tuple(map(on_device, key)) if isinstance(key, tuple) else on_device(key)
    f = lambda t: ops.getitem(t, dev_key)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), x[key])
    check_grad(f, [x], backend=backend)


def test_getitem_repeated_indices_accumulate_by_hand(backend):
    x = Tensor(backend.asarray(np.arange(3.0)), requires_grad=True)
    y = x[backend.asarray(np.array([0, 0, 2, 0]))]
    y.backward(backend.xp.ones(4))
    np.testing.assert_allclose(backend.to_numpy(x.grad), [3.0, 0.0, 1.0])
    z = Tensor(backend.asarray(np.arange(3.0)), requires_grad=True)
    ops.getitem(z, Tensor(backend.asarray(np.array([1, 1])))).sum().backward()  # Tensor key
    np.testing.assert_allclose(backend.to_numpy(z.grad), [0.0, 2.0, 0.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(backend, axis):
    shapes = {0: [(1, 3, 2), (2, 3, 2), (3, 3, 2)], 1: [(2, 1, 2), (2, 2, 2), (2, 3, 2)],
              -1: [(2, 3, 1), (2, 3, 2), (2, 3, 3)]}[axis]
    xs = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    f = lambda *ts: ops.concatenate(list(ts), axis=axis)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, *xs), np.concatenate(xs, axis=axis))
    check_grad(f, xs, backend=backend)
    check_grad(f, xs, backend=backend, wrt=[1])  # some inputs need no gradient


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(backend, axis):
    xs = [_x(2, 3, seed=i) for i in range(3)]
    f = lambda *ts: ops.stack(list(ts), axis=axis)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, *xs), np.stack(xs, axis=axis))
    check_grad(f, xs, backend=backend)
    check_grad(f, xs, backend=backend, wrt=[0, 2])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_expand_dims(backend, axis):
    x = _x(2, 3)
    f = lambda t: ops.expand_dims(t, axis)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), np.expand_dims(x, axis))
    check_grad(f, [x], backend=backend)


@pytest.mark.parametrize("axis", [None, 0, 2, -1, (0, 3)], ids=str)
def test_squeeze(backend, axis):
    x = _x(1, 3, 1, 1)
    f = lambda t: ops.squeeze(t, axis)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), np.squeeze(x, axis))
    check_grad(f, [x], backend=backend)


def test_squeeze_refuses_a_non_unit_axis(backend):
    with pytest.raises(ValueError, match="axis 1 of size 3"):
        ops.squeeze(Tensor(backend.asarray(np.zeros((1, 3)))), 1)


def test_flatten(backend):
    x = _x(2, 3, 4)
    np.testing.assert_allclose(_value(backend, ops.flatten, x), x.reshape(2, 12))
    check_grad(ops.flatten, [x], backend=backend)
