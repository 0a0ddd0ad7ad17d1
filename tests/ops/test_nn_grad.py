"""Gradients of the neural-network ops: fused dense, every activation, softmax, dropout."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

# Points away from every kink used below (0, ±3, 6, the relu threshold 0.5 and cap 2.0).
X = np.array([[-4.1, -2.7, -1.3, -0.45, 0.35], [1.2, 2.6, 4.3, 6.8, 0.9]])


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


# -- dense ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,)], ids=str)
def test_dense_values_and_gradients(backend, use_bias, activation, x_shape):
    x, w, b = _r(0, *x_shape), _r(1, 3, 5), _r(2, 5)
    y = x @ w + (b if use_bias else 0)
    if activation == "relu":
        y = np.maximum(y, 0)
    inputs = [x, w, b] if use_bias else [x, w]

    def f(*ts):
        return ops.dense(*ts, activation=activation) if use_bias else ops.dense(
            ts[0], ts[1], activation=activation)

    got = f(*[Tensor(backend.asarray(a)) for a in inputs])
    assert got.shape == y.shape
    np.testing.assert_allclose(backend.to_numpy(got.data), y, rtol=1e-12)
    check_grad(f, inputs, backend=backend)
    check_grad(f, inputs, backend=backend, wrt=[1])  # data input without gradient


# -- activations ---------------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": ops.relu,
    "relu_slope": lambda t: ops.relu(t, negative_slope=0.1),
    "relu_max": lambda t: ops.relu(t, max_value=2.0),
    "relu_threshold": lambda t: ops.relu(t, threshold=0.5),
    "relu_all": lambda t: ops.relu(t, negative_slope=0.3, max_value=2.0, threshold=0.5),
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softplus": ops.softplus,
    "softsign": ops.softsign,
    "selu": ops.selu,
    "elu": ops.elu,
    "elu_alpha": lambda t: ops.elu(t, alpha=0.4),
    "exponential": ops.exponential,
    "hard_sigmoid": ops.hard_sigmoid,
    "linear": ops.linear,
    "silu": ops.silu,
    "swish": ops.swish,
    "gelu": lambda t: ops.gelu(t, approximate=False),
    "gelu_approximate": lambda t: ops.gelu(t, approximate=True),
    "leaky_relu": ops.leaky_relu,
    "leaky_relu_slope": lambda t: ops.leaky_relu(t, negative_slope=0.01),
    "relu6": ops.relu6,
    "hard_silu": ops.hard_silu,
    "hard_swish": ops.hard_swish,
    "mish": ops.mish,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(backend, name):
    check_grad(ACTIVATIONS[name], [X], backend=backend)


def test_relu_gradient_is_zero_for_negative_inputs(backend):
    x = Tensor(backend.asarray(np.array([-1.0, 2.0])), requires_grad=True)
    ops.relu(x).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [0.0, 1.0])


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax(backend, name, axis):
    x = _r(3, 2, 3, 4) * 3
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    exp = p if name == "softmax" else np.log(p)
    f = lambda t: getattr(ops, name)(t, axis=axis)  # noqa: E731
    got = backend.to_numpy(f(Tensor(backend.asarray(x))).data)
    np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-12)
    check_grad(f, [x], backend=backend)


def test_softmax_is_shift_invariant_and_stable(backend):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
    p = backend.to_numpy(ops.softmax(Tensor(backend.asarray(x))).data)
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(p[0], e / e.sum())
    np.testing.assert_allclose(p[1], e[::-1] / e.sum())


# -- dropout ---------------------------------------------------------------------------------------


def test_dropout_gradient_with_a_fixed_mask(backend):
    def f(t):
        backend.seed(123)  # the same mask on every evaluation
        return ops.dropout(t, 0.4)

    check_grad(f, [_r(4, 6, 5)], backend=backend)


def test_dropout_backward_equals_the_mask(backend):
    backend.seed(0)
    x = Tensor(backend.asarray(np.ones((50, 40))), requires_grad=True)
    y = ops.dropout(x, 0.25)
    mask = backend.to_numpy(y.data)  # x is all ones, so the output is the mask
    assert set(np.unique(mask)) <= {0.0, 1 / 0.75}
    y.backward(backend.xp.ones((50, 40)))
    np.testing.assert_allclose(backend.to_numpy(x.grad), mask)
    backend.seed(0)
    again = ops.dropout(Tensor(backend.asarray(np.ones((50, 40)))), 0.25)
    np.testing.assert_array_equal(backend.to_numpy(again.data), mask)  # seeded: reproducible


def test_dropout_noise_shape_broadcasts_the_mask(backend):
    backend.seed(1)
    x = Tensor(backend.asarray(np.ones((4, 6, 3))), requires_grad=True)
    y = ops.dropout(x, 0.5, noise_shape=(4, 1, 3))
    m = backend.to_numpy(y.data)
    assert np.all(m == m[:, :1, :])
    y.sum().backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), m)


def test_dropout_rate_one_zeroes_everything(backend):
    x = Tensor(backend.asarray(np.ones((3, 3))), requires_grad=True)
    y = ops.dropout(x, 1.0)
    y.sum().backward()
    assert not backend.to_numpy(y.data).any() and not backend.to_numpy(x.grad).any()
