"""Values and float64 finite-difference gradients of the math ops (``gpunet.ops.math``)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _rng(seed=0):
    return np.random.default_rng(seed)


def _away_from(values, points, margin=0.05):
    """Pushes values that are within ``margin`` of a kink ``point`` away from it."""
    v = np.array(values, dtype=np.float64)
    for p in points:
        near = np.abs(v - p) < margin
        v[near] = p + np.where(v[near] >= p, margin, -margin)
    return v


def _value(backend, fn, *arrays):
    out = fn(*[Tensor(backend.asarray(a)) for a in arrays])
    return backend.to_numpy(out.data)


# -- elementwise binary ops with broadcasting ---------------------------------------------------

BROADCAST_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1, 3), (4, 1)),
                    ((1, 3), (2, 1)), ((), (2, 3)), ((2, 3), ())]

BINARY = {
    "add": (ops.add, np.add, None),
    "subtract": (ops.subtract, np.subtract, None),
    "multiply": (ops.multiply, np.multiply, None),
    "divide": (ops.divide, np.divide, "b_away_from_zero"),
    "power": (ops.power, np.power, "a_positive"),
    "maximum": (ops.maximum, np.maximum, "no_ties"),
    "minimum": (ops.minimum, np.minimum, "no_ties"),
}


def _binary_inputs(kind, sa, sb, seed):
    r = _rng(seed)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    if kind == "b_away_from_zero":
        b = np.sign(b) * (np.abs(b) + 0.5)
    elif kind == "a_positive":
        a = np.abs(a) + 0.5
    elif kind == "no_ties":
        a = np.asarray(a) + 0.0
        b = np.asarray(b) + 0.0
        while np.min(np.abs(np.subtract(a, b))) < 1e-2:
            b = b + 0.05
    return [np.asarray(a), np.asarray(b)]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
def test_binary_op_values_and_gradients(backend, name, shapes):
    op, ref, kind = BINARY[name]
    inputs = _binary_inputs(kind, *shapes, seed=len(name))
    np.testing.assert_allclose(_value(backend, op, *inputs), ref(*inputs), rtol=1e-12)
    check_grad(op, inputs, backend=backend)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_with_one_constant_operand(backend, name):
    op, _, kind = BINARY[name]
    a, b = _binary_inputs(kind, (2, 3), (3,), seed=1)
    check_grad(op, [a, b], backend=backend, wrt=[0])
    check_grad(op, [a, b], backend=backend, wrt=[1])


def test_binary_ops_accept_python_numbers(backend):
    x = np.array([0.5, 2.0, 3.0])
    check_grad(lambda t: ops.power(t, 3), [x], backend=backend)
    check_grad(lambda t: ops.power(2.0, t), [x], backend=backend)
    check_grad(lambda t: ops.divide(1.0, t), [x], backend=backend)
    check_grad(lambda t: ops.subtract(1.0, ops.maximum(t, 1.0)), [x], backend=backend)


def test_power_gradient_wrt_exponent_ignores_nonpositive_bases(backend):
    a = Tensor(backend.asarray(np.array([0.0, -2.0, 2.0])))
    b = Tensor(backend.asarray(np.array([2.0, 2.0, 2.0])), requires_grad=True)
    ops.sum(ops.power(a, b)).backward()
    g = backend.to_numpy(b.grad)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, 0.0, 4 * np.log(2.0)])


@pytest.mark.parametrize("op,winner", [(ops.maximum, "a"), (ops.minimum, "a")])
def test_ties_send_the_gradient_to_the_first_operand(backend, op, winner):
    a = Tensor(backend.asarray(np.array([1.0, 2.0])), requires_grad=True)
    b = Tensor(backend.asarray(np.array([1.0, 3.0])), requires_grad=True)
    ops.sum(op(a, b)).backward()
    ga, gb = backend.to_numpy(a.grad), backend.to_numpy(b.grad)
    assert ga[0] == 1.0 and gb[0] == 0.0  # the tie
    assert ga[1] + gb[1] == 1.0


# -- unary elementwise ops ----------------------------------------------------------------------

UNARY = {
    "negative": (ops.negative, np.negative, None),
    "exp": (ops.exp, np.exp, None),
    "log": (ops.log, np.log, "positive"),
    "log1p": (ops.log1p, np.log1p, "positive"),
    "sqrt": (ops.sqrt, np.sqrt, "positive"),
    "square": (ops.square, np.square, None),
    "abs": (ops.abs, np.abs, "nonzero"),
    "sin": (ops.sin, np.sin, None),
    "cos": (ops.cos, np.cos, None),
    "tanh": (ops.tanh, np.tanh, None),
    "sign": (ops.sign, np.sign, "nonzero"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_values_and_gradients(backend, name):
    op, ref, kind = UNARY[name]
    x = _rng(3).standard_normal((3, 4))
    if kind == "positive":
        x = np.abs(x) + 0.2
    elif kind == "nonzero":
        x = _away_from(x, [0.0], 0.1)
    np.testing.assert_allclose(_value(backend, op, x), ref(x), rtol=1e-12)
    check_grad(op, [x], backend=backend)


def test_sign_and_abs_gradients_by_hand(backend):
    x = Tensor(backend.asarray(np.array([-2.0, 3.0])), requires_grad=True)
    ops.sum(ops.abs(x) + ops.sign(x)).backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [-1.0, 1.0])


# -- matmul --------------------------------------------------------------------------------------

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
                 ((3,), (5, 3, 4)), ((5, 2, 3), (3,)), ((2, 1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=lambda s: str(s))
def test_matmul_values_and_gradients(backend, sa, sb):
    r = _rng(4)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    np.testing.assert_allclose(_value(backend, ops.matmul, a, b), np.matmul(a, b), rtol=1e-12)
    check_grad(ops.matmul, [a, b], backend=backend)


def test_matmul_one_dimensional_by_hand(backend):
    a = Tensor(backend.asarray(np.array([1.0, 2.0])), requires_grad=True)
    b = Tensor(backend.asarray(np.array([3.0, 4.0])), requires_grad=True)
    y = ops.matmul(a, b)
    assert y.shape == () and float(y) == 11.0
    y.backward()
    np.testing.assert_allclose(backend.to_numpy(a.grad), [3.0, 4.0])
    np.testing.assert_allclose(backend.to_numpy(b.grad), [1.0, 2.0])


# -- reductions ----------------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_values_and_gradients(backend, name, axis, keepdims):
    # distinct values (>= 0.1 apart) so max/min have a unique winner
    x = _rng(5).permutation(24).reshape(2, 3, 4) * 0.1 - 1.0
    op = getattr(ops, name)
    ref = getattr(np, name if name in ("sum", "mean") else "a" + name)
    got = _value(backend, lambda t: op(t, axis=axis, keepdims=keepdims), x)
    exp = ref(x, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(exp)
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    check_grad(lambda t: op(t, axis=axis, keepdims=keepdims), [x], backend=backend)


def test_max_min_ties_share_the_gradient(backend):
    x = Tensor(backend.asarray(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])), requires_grad=True)
    ops.sum(ops.max(x, axis=1)).backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [[0, 0.5, 0.5], [0.5, 0.5, 0]])
    y = Tensor(backend.asarray(np.array([4.0, 1.0, 1.0])), requires_grad=True)
    ops.min(y).backward()
    np.testing.assert_allclose(backend.to_numpy(y.grad), [0, 0.5, 0.5])


def test_mean_gradient_by_hand(backend):
    x = Tensor(backend.asarray(np.ones((2, 4))), requires_grad=True)
    ops.mean(x, axis=1).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), np.full((2, 4), 0.25))


# -- clip, where, cast ---------------------------------------------------------------------------


def test_clip_values_and_gradients(backend):
    x = _away_from(_rng(6).uniform(-2, 2, (3, 5)), [-0.5, 1.0])
    f = lambda t: ops.clip(t, -0.5, 1.0)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, x), np.clip(x, -0.5, 1.0))
    check_grad(f, [x], backend=backend)
    t = Tensor(backend.asarray(np.array([-3.0, 0.0, 3.0])), requires_grad=True)
    ops.clip(t, -1.0, 1.0).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(t.grad), [0, 1, 0])


@pytest.mark.parametrize("sa,sb", [((2, 3), (2, 3)), ((3,), (2, 1)), ((2, 3), ())])
def test_where_values_and_gradients(backend, sa, sb):
    r = _rng(7)
    cond = backend.asarray(r.random((2, 3)) > 0.5)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    f = lambda x, y: ops.where(cond, x, y)  # noqa: E731
    np.testing.assert_allclose(_value(backend, f, a, b),
                               np.where(backend.to_numpy(cond), a, b))
    check_grad(f, [a, b], backend=backend)


def test_where_accepts_a_tensor_condition(backend):
    cond = Tensor(backend.asarray(np.array([True, False])))
    a = Tensor(backend.asarray(np.array([1.0, 2.0])), requires_grad=True)
    ops.where(cond, a, 0.0).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(a.grad), [1.0, 0.0])


def test_cast_values_and_gradients(backend):
    x = _rng(8).standard_normal((2, 3))
    check_grad(lambda t: ops.cast(t, "float64"), [x], backend=backend)
    check_grad(lambda t: ops.cast(ops.cast(t, "float32"), "float64"), [x], backend=backend,
               eps=1e-2, atol=1e-3)
    t = Tensor(backend.asarray(x.astype("float32")), requires_grad=True)
    y = ops.cast(t, "float64")
    assert y.dtype == np.float64
    (y * 3).sum().backward()
    assert t.grad.dtype == np.float32  # the gradient comes back in the input's dtype
    np.testing.assert_allclose(backend.to_numpy(t.grad), np.full((2, 3), 3.0))
