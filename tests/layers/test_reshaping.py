"""Reshape, Permute and RepeatVector: values, inferred sizes, gradients, errors, in models."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _t(backend, a, dtype="float32"):
    return Tensor(backend.asarray(np.asarray(a, dtype)))


def _np(backend, t):
    return backend.to_numpy(t.data)


X = np.arange(2 * 12, dtype="float32").reshape(2, 12)


@pytest.mark.parametrize("target,want", [((3, 4), (3, 4)), ((-1, 2), (6, 2)),
                                         ((2, -1, 3), (2, 2, 3)), ((12,), (12,)), (12, (12,))],
                         ids=str)
def test_reshape_values_and_inferred_dimension(backend, target, want):
    layer = layers.Reshape(target)
    y = layer(_t(backend, X))
    assert y.shape == (2,) + want
    np.testing.assert_array_equal(_np(backend, y), X.reshape((2,) + want))
    assert layer.compute_output_shape((None, 12)) == (None,) + want
    assert layer.compute_output_shape((None, None)) == (None,) + tuple(
        None if d == -1 else d for d in (target if isinstance(target, tuple) else (target,)))


def test_reshape_gradient(backend):
    layer = layers.Reshape((-1, 3), dtype="float64")
    check_grad(lambda t: layer(t) * layer(t), [np.random.default_rng(0).normal(size=(2, 3, 2))],
               backend=backend)


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"at most one unknown.*\(-1, -1\)"):
        layers.Reshape((-1, -1))
    for bad in [(0, 2), (2.5,), "3", (-2, 3), None]:
        with pytest.raises(ValueError, match="Reshape.*target_shape"):
            layers.Reshape(bad)
    layer = layers.Reshape((5, -1), name="rs")
    with pytest.raises(ValueError, match=r"'rs'.*unchanged.*\(5, -1\).*12 elements.*\(None, 12\)"):
        layer(np.zeros((2, 12), "float32"))
    with pytest.raises(ValueError, match=r"'rs2'.*\(4, 4\).*12 elements"):
        layers.Reshape((4, 4), name="rs2").compute_output_shape((None, 3, 4))


def test_permute(backend):
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype("float32")
    layer = layers.Permute((3, 1, 2))
    y = layer(_t(backend, x))
    np.testing.assert_array_equal(_np(backend, y), x.transpose(0, 3, 1, 2))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 5, 3, 4)
    assert layer.get_config()["dims"] == [3, 1, 2]
    g = layers.Permute((2, 1), dtype="float64")
    check_grad(lambda t: g(t), [np.random.default_rng(2).normal(size=(2, 3, 4))],
               backend=backend)


def test_permute_errors(backend):
    for bad in [(1, 3), (0, 1), (2, 2), (1.0, 2.0), 3]:
        with pytest.raises(ValueError, match=r"Permute.*consecutive and start from 1.*Received"):
            layers.Permute(bad)
    with pytest.raises(ValueError, match=r"'perm'.*expected ndim=3, found ndim=2.*\(None, 4\)"):
        layers.Permute((2, 1), name="perm")(_t(backend, np.zeros((2, 4))))


def test_repeat_vector(backend):
    x = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    layer = layers.RepeatVector(3)
    y = _np(backend, layer(_t(backend, x)))
    assert y.shape == (2, 3, 2)
    np.testing.assert_array_equal(y, [[[1, 2]] * 3, [[3, 4]] * 3])
    assert layer.compute_output_shape((None, 2)) == (None, 3, 2)
    r = layers.RepeatVector(4, dtype="float64")
    check_grad(lambda t: r(t), [np.random.default_rng(3).normal(size=(2, 3))], backend=backend)


def test_repeat_vector_errors(backend):
    for bad in [0, -1, 2.0, "3", None]:
        with pytest.raises(ValueError, match=r"RepeatVector.*`n`.*Received: n="):
            layers.RepeatVector(bad)
    with pytest.raises(ValueError, match=r"'rep'.*expected ndim=2, found ndim=3.*\(None, 2, 3\)"):
        layers.RepeatVector(2, name="rep")(_t(backend, np.zeros((1, 2, 3))))


def test_reshaping_layers_in_a_trained_model(backend, tmp_path, round_trip):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 6)).astype("float32")
    y = rng.normal(size=(8, 4, 3)).astype("float32")
    model = Sequential([layers.Input((6,)), layers.Reshape((3, 2)), layers.Permute((2, 1)),
                        layers.Flatten(), layers.Dense(3), layers.RepeatVector(4),
                        layers.Dense(3)])
    assert model.output_shape_ == (None, 4, 3)
    round_trip(model, x, y, tmp_path)
