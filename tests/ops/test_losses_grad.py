"""Fused cross-entropies on logits: values from the formulas, finite-difference gradients."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _logits(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2


def _log_softmax(z):
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def _val(backend, out):
    return backend.to_numpy(out.data)


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (5,)], ids=str)
def test_sparse_softmax_cross_entropy(backend, shape):
    z = _logits(*shape)
    labels = np.random.default_rng(1).integers(0, shape[-1], shape[:-1])
    lab = backend.asarray(labels)
    exp = -np.take_along_axis(_log_softmax(z), labels[..., None], -1)[..., 0]
    got = _val(backend, ops.sparse_softmax_cross_entropy(Tensor(backend.asarray(z)), lab))
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    check_grad(lambda t: ops.sparse_softmax_cross_entropy(t, lab), [z], backend=backend)


def test_sparse_softmax_cross_entropy_label_forms(backend):
    z = Tensor(backend.asarray(_logits(3, 4)))
    ref = _val(backend, ops.sparse_softmax_cross_entropy(z, backend.asarray(np.array([0, 3, 1]))))
    for labels in (np.array([[0], [3], [1]]), np.array([0.0, 3.0, 1.0]), [0, 3, 1]):
        lab = backend.asarray(labels) if isinstance(labels, np.ndarray) else labels
        np.testing.assert_allclose(_val(backend, ops.sparse_softmax_cross_entropy(z, lab)), ref)


def test_sparse_softmax_cross_entropy_gradient_by_hand(backend):
    z = Tensor(backend.asarray(np.zeros((1, 4))), requires_grad=True)
    loss = ops.sparse_softmax_cross_entropy(z, backend.asarray(np.array([2])))
    np.testing.assert_allclose(_val(backend, loss), [np.log(4.0)])
    loss.sum().backward()
    np.testing.assert_allclose(backend.to_numpy(z.grad), [[0.25, 0.25, -0.75, 0.25]])


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)], ids=str)
def test_softmax_cross_entropy(backend, shape):
    z = _logits(*shape)
    y = np.random.default_rng(2).random(shape)
    y /= y.sum(-1, keepdims=True)
    exp = -(y * _log_softmax(z)).sum(-1)
    got = _val(backend, ops.softmax_cross_entropy(Tensor(backend.asarray(z)),
                                                  Tensor(backend.asarray(y))))
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    check_grad(ops.softmax_cross_entropy, [z, y], backend=backend)  # logits and targets
    check_grad(ops.softmax_cross_entropy, [z, y], backend=backend, wrt=[0])
    # targets that do not sum to one (label smoothing gone wrong, soft counts) still check out
    check_grad(ops.softmax_cross_entropy, [z, y * 1.7], backend=backend)


@pytest.mark.parametrize("shape", [(4, 5), (7,)], ids=str)
def test_sigmoid_cross_entropy(backend, shape):
    z = _logits(*shape)
    y = np.random.default_rng(3).random(shape)
    s = 1 / (1 + np.exp(-z))
    exp = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    got = _val(backend, ops.sigmoid_cross_entropy(Tensor(backend.asarray(z)),
                                                  Tensor(backend.asarray(y))))
    np.testing.assert_allclose(got, exp, rtol=1e-10)
    check_grad(ops.sigmoid_cross_entropy, [z, y], backend=backend)
    check_grad(ops.sigmoid_cross_entropy, [z, y], backend=backend, wrt=[0])


def test_cross_entropies_stay_finite_for_extreme_logits(backend):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 50.0]])
    zt = Tensor(backend.asarray(z), requires_grad=True)
    onehot = backend.asarray(np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    sparse = ops.sparse_softmax_cross_entropy(zt, backend.asarray(np.array([1, 1])))
    dense = ops.softmax_cross_entropy(zt, onehot)
    binary = ops.sigmoid_cross_entropy(zt, onehot)
    np.testing.assert_allclose(_val(backend, sparse), [2e4, 0.0])
    np.testing.assert_allclose(_val(backend, dense), [2e4, 0.0])
    np.testing.assert_allclose(_val(backend, binary), [[1e4, 1e4, np.log(2)],
                                                       [0.0, 0.0, 50.0]], rtol=1e-12)
    (ops.sum(sparse) + ops.sum(dense) + ops.sum(binary)).backward()
    assert np.all(np.isfinite(backend.to_numpy(zt.grad)))
