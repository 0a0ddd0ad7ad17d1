"""A cross-entropy after a softmax output reuses the softmax's max, sum and probabilities, and
can take the batch mean in the same node: the same numbers as the separate nodes, gradients
from finite differences, and values from the float64 formula (saturated rows included)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.engine import no_grad
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops.losses import SoftmaxCrossEntropy, SparseSoftmaxCrossEntropy
from gpunet.ops.nn import softmax_parts


def _log_softmax(z):
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def _logits(shape, seed=0, saturate=False):
    z = np.random.default_rng(seed).standard_normal(shape) * 3
    if saturate:  # rows whose smallest probabilities are far below 1e-7
        z.reshape(-1, shape[-1])[::2] *= 40
    return z


def _bits(backend, a):
    return np.ascontiguousarray(backend.to_numpy(a)).tobytes()


def _pair(backend, z, dtype="float32"):
    """Two independent leaf copies of the logits (one graph each)."""
    return [Tensor(backend.asarray(z.astype(dtype)), requires_grad=True) for _ in range(2)]


@pytest.mark.parametrize("shape", [(32, 10), (4, 6, 5)], ids=str)
@pytest.mark.parametrize("saturate", [False, True], ids=["plain", "saturated"])
def test_sparse_reuse_and_mean_give_the_same_bits(backend, shape, saturate):
    z = _logits(shape, saturate=saturate)
    labels = backend.asarray(np.random.default_rng(1).integers(0, shape[-1], shape[:-1]))
    za, zb = _pair(backend, z)
    pa = ops.softmax(za)
    ref = ops.mean(SparseSoftmaxCrossEntropy()(za, labels))
    pb = ops.softmax(zb)
    assert softmax_parts(pb, zb) is not None
    got = ops.sparse_softmax_cross_entropy(zb, labels, probs=pb, mean=True)
    assert got.shape == ()
    assert _bits(backend, got.data) == _bits(backend, ref.data)
    ref.backward()
    got.backward()
    assert _bits(backend, zb.grad) == _bits(backend, za.grad)
    # the probabilities (the model's output) are left as they were
    assert _bits(backend, pb.data) == _bits(backend, pa.data)
    # per-sample values: the float64 formula, no clipping in saturated rows
    per = ops.sparse_softmax_cross_entropy(zb.data, labels)
    lab = backend.to_numpy(labels)
    exp = -np.take_along_axis(_log_softmax(z.astype("float32").astype(np.float64)),
                              lab[..., None], -1)[..., 0]
    np.testing.assert_allclose(backend.to_numpy(per.data), exp, rtol=2e-5, atol=2e-5)
    if saturate:
        assert exp.max() > -np.log(1e-7) + 1  # the rows reach past the clip's bound


@pytest.mark.parametrize("shape", [(8, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("mean", [False, True], ids=["per_sample", "mean"])
def test_categorical_reuse_gives_the_same_bits(backend, shape, mean):
    z = _logits(shape, seed=3, saturate=True)
    y = np.random.default_rng(4).random(shape)
    y = backend.asarray((y / y.sum(-1, keepdims=True)).astype("float32"))
    za, zb = _pair(backend, z)
    ops.softmax(za)
    ref = SoftmaxCrossEntropy()(za, y)
    ref = ops.mean(ref) if mean else ref
    pb = ops.softmax(zb)
    got = ops.softmax_cross_entropy(zb, y, probs=pb, mean=mean)
    assert _bits(backend, got.data) == _bits(backend, ref.data)
    ops.sum(ref).backward()
    ops.sum(got).backward()
    assert _bits(backend, zb.grad) == _bits(backend, za.grad)


def test_sparse_fused_gradient_by_finite_differences(backend):
    z = _logits((6, 5), seed=5, saturate=True) / 10
    lab = backend.asarray(np.array([0, 4, 2, 2, 1, 3]))

    def f(t):  # float64; the numerical side runs without a graph (no parts to reuse)
        return ops.sparse_softmax_cross_entropy(t, lab, probs=ops.softmax(t), mean=True)

    check_grad(f, [z], backend=backend)
    check_grad(lambda t: ops.sparse_softmax_cross_entropy(t, lab, probs=ops.softmax(t)),
               [z], backend=backend)


def test_categorical_fused_gradient_by_finite_differences(backend):
    z = _logits((4, 3, 5), seed=6) / 2
    y = np.random.default_rng(7).random((4, 3, 5))
    y /= y.sum(-1, keepdims=True)

    def f(t, target):
        return ops.softmax_cross_entropy(t, target, probs=ops.softmax(t), mean=True)

    check_grad(f, [z, y], backend=backend)  # the targets' gradient too


def test_parts_only_from_the_softmax_of_those_logits(backend):
    z = Tensor(backend.asarray(_logits((3, 4)).astype("float32")), requires_grad=True)
    p = ops.softmax(z)
    other = Tensor(backend.asarray(np.zeros((3, 4), "float32")), requires_grad=True)
    assert softmax_parts(p, other) is None
    assert softmax_parts(ops.softmax(z, axis=0), z) is None
    assert softmax_parts(None, z) is None
    with no_grad():  # nothing recorded: computed again, the same value
        q = ops.softmax(z)
        assert softmax_parts(q, z) is None
        a = ops.sparse_softmax_cross_entropy(z, backend.asarray(np.array([1, 0, 3])), probs=q)
    b = ops.sparse_softmax_cross_entropy(z, backend.asarray(np.array([1, 0, 3])), probs=p)
    assert _bits(backend, a.data) == _bits(backend, b.data)
