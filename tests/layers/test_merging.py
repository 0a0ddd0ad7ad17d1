"""Merge layers: values and gradients against NumPy formulas, shapes, masks, config, errors."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Input, Model, layers
from gpunet.autograd.gradcheck import check_grad
from gpunet.autograd.tensor import Tensor

RNG = np.random.default_rng(0)


def _arrays(n, shape=(3, 4)):
    return [RNG.normal(size=shape).astype("float32") for _ in range(n)]


ELEMENTWISE = [
    (layers.Add, lambda xs: xs[0] + xs[1] + xs[2], 3),
    (layers.Subtract, lambda xs: xs[0] - xs[1], 2),
    (layers.Multiply, lambda xs: xs[0] * xs[1] * xs[2], 3),
    (layers.Average, lambda xs: (xs[0] + xs[1] + xs[2]) / 3, 3),
    (layers.Maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2]), 3),
    (layers.Minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2]), 3),
]


@pytest.mark.parametrize("cls,ref,n", ELEMENTWISE, ids=[c[0].__name__ for c in ELEMENTWISE])
def test_elementwise_values(backend, cls, ref, n):
    xs = _arrays(n)
    out = cls()([backend.asarray(x) for x in xs])
    np.testing.assert_allclose(out.numpy(), ref(xs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls,ref,n", ELEMENTWISE, ids=[c[0].__name__ for c in ELEMENTWISE])
def test_elementwise_gradients(cls, ref, n):
    layer = cls(dtype="float64")
    xs = [RNG.normal(size=(2, 3)) for _ in range(n)]
    check_grad(lambda *ts: layer(list(ts)), xs)


def test_concatenate_values_and_gradient(backend):
    a, b = _arrays(1, (2, 3))[0], _arrays(1, (2, 5))[0]
    out = layers.Concatenate()([backend.asarray(a), backend.asarray(b)])
    np.testing.assert_array_equal(out.numpy(), np.concatenate([a, b], axis=-1))
    c = _arrays(1, (4, 3))[0]
    out0 = layers.Concatenate(axis=1)([backend.asarray(a[:, None]), backend.asarray(a[:, None])])
    assert out0.shape == (2, 2, 3)
    assert layers.concatenate([backend.asarray(a), backend.asarray(c[:2])]).shape == (2, 6)
    layer = layers.Concatenate(axis=1, dtype="float64")
    check_grad(lambda x, y: layer([x, y]),
               [RNG.normal(size=(2, 2, 3)), RNG.normal(size=(2, 1, 3))])


def test_dot_2d_and_normalize(backend):
    a, b = _arrays(2, (4, 3))
    out = layers.Dot(axes=1)([backend.asarray(a), backend.asarray(b)])
    np.testing.assert_allclose(out.numpy(), (a * b).sum(1, keepdims=True), rtol=1e-5)
    cos = layers.dot([backend.asarray(a), backend.asarray(b)], axes=1, normalize=True)
    ref = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(cos.numpy()[:, 0], ref, rtol=1e-5)


def test_dot_3d_axes_pair_and_gradient(backend):
    x = RNG.normal(size=(2, 4, 3)).astype("float32")
    y = RNG.normal(size=(2, 3, 5)).astype("float32")
    out = layers.Dot(axes=(2, 1))([backend.asarray(x), backend.asarray(y)])
    np.testing.assert_allclose(out.numpy(), np.einsum("bik,bkj->bij", x, y), rtol=1e-5)
    layer = layers.Dot(axes=(1, 2), normalize=True, dtype="float64")
    check_grad(lambda p, q: layer([p, q]),
               [RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 3))])


def test_symbolic_shapes_and_functional_forms():
    a, b = Input((4,)), Input((4,))
    assert layers.add([a, b]).shape == (None, 4)
    assert layers.subtract([a, b]).shape == (None, 4)
    assert layers.multiply([a, b]).shape == (None, 4)
    assert layers.average([a, b]).shape == (None, 4)
    assert layers.maximum([a, b]).shape == (None, 4)
    assert layers.minimum([a, b]).shape == (None, 4)
    assert layers.concatenate([a, Input((2,))]).shape == (None, 6)
    assert layers.dot([a, b], axes=1).shape == (None, 1)
    s1, s2 = Input((5, 3)), Input((7, 3))
    assert layers.Dot(axes=2)([s1, s2]).shape == (None, 5, 7)
    assert layers.Add()([Input((3, 4)), Input((1, 4))]).shape == (None, 3, 4)


def test_errors_name_the_layer():
    a, b = Input((4,)), Input((5,))
    with pytest.raises(ValueError, match="incompatible shapes"):
        layers.Add(name="plus")([a, b])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        layers.Add()([a])
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="concatenation axis"):
        layers.Concatenate(axis=1)([Input((2, 3)), Input((2, 4))])
    with pytest.raises(ValueError, match="Incompatible input shapes"):
        layers.Dot(axes=1)([a, b])


def test_mask_is_the_and_of_input_masks(backend):
    a = Tensor(backend.asarray(np.ones((2, 3, 4), "float32")))
    b = Tensor(backend.asarray(np.ones((2, 3, 4), "float32")))
    a._keras_mask = backend.asarray(np.array([[1, 1, 0], [1, 0, 0]], bool))
    b._keras_mask = backend.asarray(np.array([[1, 0, 0], [1, 1, 1]], bool))
    out = layers.Add()([a, b])
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask),
                                  [[1, 0, 0], [1, 0, 0]])
    assert layers.Add()([Tensor(a.data), Tensor(b.data)])._keras_mask is None


def test_configs_round_trip():
    for layer in (layers.Add(name="p"), layers.Concatenate(axis=1), layers.Dot((1, 2), True)):
        cfg = layer.get_config()
        back = type(layer).from_config(cfg)
        assert back.get_config() == cfg


def test_merge_in_a_trained_model(backend):
    a, b = Input((3,)), Input((3,))
    out = layers.Dense(1)(layers.concatenate([layers.add([a, b]), layers.multiply([a, b])]))
    model = Model([a, b], out)
    model.compile("sgd", "mse")
    xa, xb = _arrays(2, (8, 3))
    y = RNG.normal(size=(8, 1)).astype("float32")
    before = model.evaluate([xa, xb], y, verbose=0)
    model.fit([xa, xb], y, epochs=5, batch_size=8, verbose=0)
    assert model.evaluate([xa, xb], y, verbose=0) < before
