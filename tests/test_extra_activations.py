"""Keras 3's newer activations: values from the formulas, gradients by finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpunet import activations
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

X = [-3.5, -1.0, -0.7, -0.25, 0.0, 0.3, 0.5, 0.9, 2.0, 7.0]


def _sig(v):
    return 1 / (1 + math.exp(-v))


# name -> (callable under test, scalar formula written from Keras 3's documentation)
ELEMENTWISE = {
    "celu": (activations.celu, lambda v: v if v >= 0 else math.exp(v) - 1),
    "celu_alpha": (lambda t: activations.celu(t, alpha=0.5),
                   lambda v: v if v >= 0 else 0.5 * (math.exp(v / 0.5) - 1)),
    "hard_tanh": (activations.hard_tanh, lambda v: max(-1.0, min(1.0, v))),
    "hard_shrink": (activations.hard_shrink, lambda v: v if abs(v) > 0.5 else 0.0),
    "hard_shrink_1": (lambda t: activations.hard_shrink(t, threshold=1.0),
                      lambda v: v if abs(v) > 1 else 0.0),
    "soft_shrink": (activations.soft_shrink,
                    lambda v: v - 0.5 if v > 0.5 else (v + 0.5 if v < -0.5 else 0.0)),
    "soft_shrink_2": (lambda t: activations.soft_shrink(t, threshold=2.0),
                      lambda v: v - 2 if v > 2 else (v + 2 if v < -2 else 0.0)),
    "tanh_shrink": (activations.tanh_shrink, lambda v: v - math.tanh(v)),
    "squareplus": (activations.squareplus, lambda v: (v + math.sqrt(v * v + 4)) / 2),
    "squareplus_b1": (lambda t: activations.squareplus(t, b=1),
                      lambda v: (v + math.sqrt(v * v + 1)) / 2),
    "sparse_plus": (activations.sparse_plus,
                    lambda v: 0.0 if v <= -1 else (v if v >= 1 else (v + 1) ** 2 / 4)),
    "sparse_sigmoid": (activations.sparse_sigmoid,
                       lambda v: 0.0 if v <= -1 else (1.0 if v >= 1 else (v + 1) / 2)),
    "threshold": (lambda t: activations.threshold(t, 0.3, -2.0),
                  lambda v: v if v > 0.3 else -2.0),
    "log_sigmoid": (activations.log_sigmoid, lambda v: math.log(_sig(v))),
}


def _apply(backend, fn, values, dtype="float64"):
    out = fn(Tensor(backend.asarray(np.array(values, dtype=dtype))))
    return backend.to_numpy(out.data)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_values_match_the_formula(backend, name):
    fn, formula = ELEMENTWISE[name]
    want = [formula(v) for v in X]
    np.testing.assert_allclose(_apply(backend, fn, X), want, rtol=1e-12, atol=1e-15)
    f32 = _apply(backend, fn, X, "float32")
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, want, rtol=1e-5, atol=1e-6)


# points away from the kinks, where finite differences are meaningful
SMOOTH = np.array([[-3.1, -1.3, -0.8, -0.2, 0.15], [0.35, 0.7, 1.2, 2.4, 4.0]])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_gradients(name):
    check_grad(ELEMENTWISE[name][0], [SMOOTH])


def test_log_sigmoid_extremes(backend):
    x = Tensor(backend.asarray(np.array([-1e4, 1e4], "float32")), requires_grad=True)
    y = activations.log_sigmoid(x)
    np.testing.assert_allclose(backend.to_numpy(y.data), [-1e4, 0.0], atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), [1.0, 0.0], atol=1e-6)


def _sparsemax_ref(z):
    """Martins & Astudillo's algorithm, one row at a time."""
    zs = np.sort(z)[::-1]
    k = np.arange(1, len(z) + 1)
    cs = np.cumsum(zs)
    kz = k[1 + k * zs > cs].max()
    tau = (cs[kz - 1] - 1) / kz
    return np.maximum(z - tau, 0)


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_values(backend, axis):
    x = np.array([[1.0, 2.0, 0.1, -1.0], [0.0, 0.0, 0.0, 0.0], [0.3, 0.1, 0.25, 0.2]])
    got = _apply(backend, lambda t: activations.sparsemax(t, axis=axis), x)
    want = np.apply_along_axis(_sparsemax_ref, axis, x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0)
    np.testing.assert_allclose(_apply(backend, activations.sparsemax, [[1.0, 2.0, 0.1]]),
                               [[0.0, 1.0, 0.0]])
    # by hand: support {2.0, 1.5}, τ = (3.5 - 1)/2 = 1.25
    np.testing.assert_allclose(_apply(backend, activations.sparsemax, [[2.0, 1.5, 0.0]]),
                               [[0.75, 0.25, 0.0]], atol=1e-12)


def test_sparsemax_gradient():
    x = np.array([[0.3, 0.1, 0.25, 0.2, -0.4], [1.0, 0.9, -0.5, 0.85, 0.0]])
    check_grad(activations.sparsemax, [x])
    check_grad(lambda t: activations.sparsemax(t, axis=0), [x.T.copy()])


@pytest.mark.parametrize("axis", [-1, 1])
def test_glu_values_and_gradient(backend, axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 6)) if axis == -1 else rng.normal(size=(2, 4, 3))
    got = _apply(backend, lambda t: activations.glu(t, axis=axis), x)
    a, b = np.split(x, 2, axis=axis)
    np.testing.assert_allclose(got, a / (1 + np.exp(-b)), rtol=1e-12)
    check_grad(lambda t: activations.glu(t, axis=axis), [x])
    with pytest.raises(ValueError, match="even"):
        activations.glu(Tensor(np.zeros((2, 3))))


NEW = ["celu", "glu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "squareplus",
       "sparse_plus", "sparse_sigmoid", "sparsemax", "threshold", "log_sigmoid"]


@pytest.mark.parametrize("name", NEW)
def test_registered_by_name(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.serialize(fn) == name


def test_in_a_dense_layer():
    import gpunet

    layer = gpunet.layers.Dense(4, activation="squareplus")
    y = layer(Tensor(np.ones((2, 3), "float32")))
    assert y.shape == (2, 4) and np.all(y.data > 0)
