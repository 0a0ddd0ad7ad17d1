"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax (with a mask), ThresholdedReLU."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, initializers, layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

X = np.array([[-3.0, -0.5, 0.25, 1.5, 4.0, 7.0]], "float32")


def _t(backend, a, dtype="float32"):
    return Tensor(backend.asarray(np.asarray(a, dtype)))


def _np(backend, t):
    return backend.to_numpy(t.data)


CASES = {
    "relu": (lambda: layers.ReLU(), np.maximum(X, 0)),
    "relu_cap": (lambda: layers.ReLU(max_value=6.0), np.clip(X, 0, 6)),
    "relu_slope_threshold": (lambda: layers.ReLU(negative_slope=0.1, threshold=1.0),
                             np.where(X > 1.0, X, 0.1 * (X - 1.0))),
    "leaky_default": (lambda: layers.LeakyReLU(), np.where(X >= 0, X, 0.3 * X)),
    "leaky_alpha_keras2": (lambda: layers.LeakyReLU(alpha=0.01), np.where(X >= 0, X, 0.01 * X)),
    "elu": (lambda: layers.ELU(alpha=0.5), np.where(X > 0, X, 0.5 * np.expm1(X))),
    "thresholded": (lambda: layers.ThresholdedReLU(theta=1.0), np.where(X > 1.0, X, 0.0)),
    "softmax": (lambda: layers.Softmax(), np.exp(X) / np.exp(X).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values(backend, name):
    make, want = CASES[name]
    layer = make()
    np.testing.assert_allclose(_np(backend, layer(_t(backend, X))), want, rtol=1e-6, atol=1e-7)
    assert layer.supports_masking
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_configs():
    assert layers.ReLU().name == "re_lu" and layers.PReLU().name == "p_re_lu"
    assert layers.LeakyReLU(alpha=0.2).get_config()["negative_slope"] == 0.2
    assert layers.ReLU(max_value=6).get_config()["max_value"] == 6.0


def test_prelu_weights_values_and_gradients(backend):
    layer = layers.PReLU(alpha_initializer=initializers.Constant(0.25), shared_axes=[1, 2])
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    y = _np(backend, layer(_t(backend, x)))
    assert [w.name for w in layer.weights] == ["alpha"] and layer.alpha.shape == (1, 1, 5)
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.25 * x), rtol=1e-6)
    assert layer.get_config()["shared_axes"] == [1, 2]
    full = layers.PReLU(alpha_initializer="random_normal", dtype="float64")
    xs = np.array([[-2.0, -0.5, 0.3], [1.1, -0.7, 2.0]])
    full(Tensor(backend.asarray(xs)))
    assert full.alpha.shape == (3,) and full.count_params() == 3
    check_grad(lambda t: full(t), [xs], backend=backend)
    full.alpha.grad = None
    full(Tensor(backend.asarray(xs))).sum().backward()  # d/d alpha = x where x <= 0
    np.testing.assert_allclose(backend.to_numpy(full.alpha.grad), np.minimum(xs, 0).sum(0))


def test_prelu_errors(backend):
    with pytest.raises(ValueError, match=r"PReLU.*shared_axes.*Received: shared_axes=\[0\]"):
        layers.PReLU(shared_axes=0)
    with pytest.raises(ValueError, match=r"'pr'.*shared axis 3 is out of range.*\(None, 4\)"):
        layers.PReLU(shared_axes=3, name="pr")(_t(backend, np.ones((2, 4))))
    layer = layers.PReLU(name="pr2")
    layer(_t(backend, np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"'pr2'.*\(None, 4\).*\(None, 5\)"):
        layer(_t(backend, np.ones((2, 5))))


def test_softmax_axis_and_mask(backend):
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32")
    y = _np(backend, layers.Softmax(axis=1)(_t(backend, x)))
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(1, keepdims=True), rtol=1e-5)
    y = _np(backend, layers.Softmax(axis=[1, 2])(_t(backend, x)))
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum((1, 2), keepdims=True), rtol=1e-5)
    mask = np.array([[[1, 1, 0, 0]] * 3, [[1, 0, 1, 1]] * 3], bool)
    y = _np(backend, layers.Softmax()(_t(backend, x), mask=backend.asarray(mask)))
    e = np.exp(x) * mask
    np.testing.assert_allclose(y, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert (y[~mask] == 0).all()
    time_mask = np.array([[1, 1, 0], [1, 0, 0]], bool)  # a (batch, time) mask
    y = _np(backend, layers.Softmax()(_t(backend, x), mask=backend.asarray(time_mask)))
    assert (y[~time_mask] == 0).all()
    np.testing.assert_allclose(y[time_mask].sum(-1), 1.0, rtol=1e-6)


def test_gradients_through_layers(backend):
    xs = np.array([[-2.1, -0.6, 0.4, 1.7, 6.5, 8.0]])
    for layer in (layers.ReLU(max_value=6.0, negative_slope=0.2, threshold=0.5,
                              dtype="float64"),
                  layers.LeakyReLU(dtype="float64"), layers.ELU(dtype="float64"),
                  layers.ThresholdedReLU(dtype="float64"), layers.Softmax(dtype="float64")):
        check_grad(lambda t, lyr=layer: lyr(t), [xs], backend=backend)


def test_argument_errors():
    with pytest.raises(ValueError, match=r"ReLU.*max_value=-1"):
        layers.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match=r"ReLU.*negative_slope=-0.1"):
        layers.ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"ReLU.*threshold=None"):
        layers.ReLU(threshold=None)
    with pytest.raises(ValueError, match=r"LeakyReLU.*negative_slope=-1"):
        layers.LeakyReLU(-1.0)
    with pytest.raises(ValueError, match=r"ThresholdedReLU.*theta=-1"):
        layers.ThresholdedReLU(-1.0)
    with pytest.raises(TypeError, match=r"Softmax.*axis='x'"):
        layers.Softmax(axis="x")


def test_activation_layers_in_a_trained_model(backend, tmp_path, round_trip):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 5)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")
    model = Sequential([layers.Input((5,)), layers.Dense(6), layers.PReLU(), layers.Dense(6),
                        layers.LeakyReLU(), layers.Dense(6), layers.ELU(), layers.Dense(3),
                        layers.Softmax()])
    round_trip(model, x, y, tmp_path)
