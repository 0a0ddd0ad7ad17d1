"""The compiled loss takes a built-in cross-entropy and its batch mean in one node: the same
bits as per-sample values then a mean, and Keras's formulas where weights, masks, other
reductions or an overridden ``call`` take it off that path."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import losses, ops
from gpunet.autograd import Tensor
from gpunet.models.compile_utils import LossContainer
from gpunet.ops.losses import SoftmaxCrossEntropy, SparseSoftmaxCrossEntropy

K = 5


def _setup(backend, seed=0, n=12):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, K)) * 4).astype("float32")
    z[::3] *= 30  # saturated rows
    lab = rng.integers(0, K, n)
    return z, lab


def _forward(backend, z):
    logits = Tensor(backend.asarray(z), requires_grad=True)
    return logits, ops.softmax(logits)


def _ref_log_softmax(z):
    z = z.astype(np.float64)
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def _bits(backend, a):
    return np.ascontiguousarray(backend.to_numpy(a)).tobytes()


@pytest.mark.parametrize("spec", ["sparse_categorical_crossentropy", "class"])
def test_sparse_one_node_same_bits(backend, spec):
    z, lab = _setup(backend)
    y = backend.asarray(lab)
    loss_spec = losses.SparseCategoricalCrossentropy() if spec == "class" else spec
    za, pa = _forward(backend, z)
    got = LossContainer(loss_spec)(y, pa)
    assert isinstance(got.creator, SparseSoftmaxCrossEntropy)  # one node, no separate mean
    zb, _ = _forward(backend, z)
    ops.softmax(zb)
    ref = ops.mean(SparseSoftmaxCrossEntropy()(zb, y))
    assert _bits(backend, got.data) == _bits(backend, ref.data)
    got.backward()
    ref.backward()
    assert _bits(backend, za.grad) == _bits(backend, zb.grad)
    exp = -np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1).mean()
    np.testing.assert_allclose(float(got.data), exp, rtol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_categorical_one_node_same_bits(backend, smoothing):
    z, lab = _setup(backend, seed=1)
    onehot = np.eye(K, dtype="float32")[lab]
    y = backend.asarray(onehot)
    za, pa = _forward(backend, z)
    spec = (losses.CategoricalCrossentropy(label_smoothing=smoothing) if smoothing
            else "categorical_crossentropy")
    got = LossContainer(spec)(y, pa)
    assert isinstance(got.creator, SoftmaxCrossEntropy)
    zb, _ = _forward(backend, z)
    ops.softmax(zb)
    t = onehot * (1.0 - smoothing) + smoothing / K if smoothing else onehot
    ref = ops.mean(SoftmaxCrossEntropy()(zb, backend.asarray(t.astype("float32"))))
    assert _bits(backend, got.data) == _bits(backend, ref.data)
    got.backward()
    ref.backward()
    assert _bits(backend, za.grad) == _bits(backend, zb.grad)
    np.testing.assert_allclose(float(got.data), -(t * _ref_log_softmax(z)).sum(-1).mean(),
                               rtol=1e-5)


def test_sample_weight_ignore_class_and_sum_follow_keras(backend):
    z, lab = _setup(backend, seed=2)
    per = -np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1)[:, 0]
    y = backend.asarray(lab)
    w = np.linspace(0.0, 2.0, len(lab)).astype("float32")
    _, p = _forward(backend, z)
    got = LossContainer("sparse_categorical_crossentropy")(y, p, backend.asarray(w))
    np.testing.assert_allclose(float(got.data), (per * w).sum() / len(lab), rtol=1e-5)
    _, p = _forward(backend, z)
    got = LossContainer(losses.SparseCategoricalCrossentropy(reduction="sum"))(y, p)
    np.testing.assert_allclose(float(got.data), per.sum(), rtol=1e-5)
    _, p = _forward(backend, z)
    got = LossContainer(losses.SparseCategoricalCrossentropy(ignore_class=2))(y, p)
    keep = lab != 2
    np.testing.assert_allclose(float(got.data), per[keep].sum() / keep.sum(), rtol=1e-5)


def test_a_wrapper_with_its_own_call_is_used(backend):
    class Doubled(losses.LossFunctionWrapper):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * 2.0

    z, lab = _setup(backend, seed=3)
    _, p = _forward(backend, z)
    got = LossContainer(Doubled(losses.sparse_categorical_crossentropy))(backend.asarray(lab), p)
    exp = -2 * np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1).mean()
    np.testing.assert_allclose(float(got.data), exp, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "uint64", "float32"])
def test_labels_out_of_range_are_refused(backend, dtype):
    z, _ = _setup(backend, n=4)
    _, p = _forward(backend, z)
    lc = LossContainer("sparse_categorical_crossentropy")
    bad = [[0, 1, K, 2]] + ([] if dtype.startswith("u") else [[0, -1, 1, 2]])
    for labels in bad:
        y = backend.asarray(np.array(labels, dtype=dtype))
        if not backend.is_host:  # no host read per step on a device
            continue
        value = K if K in labels else -1
        with pytest.raises(ValueError, match=f"label value of {value} which is outside the "
                                             rf"valid range of \[0, {K - 1}\]"):
            lc(y, p)
    ok = lc(backend.asarray(np.array([0, 1, K - 1, 2], dtype=dtype)), p)  # in range: accepted
    ref = lc(backend.asarray(np.array([0, 1, K - 1, 2])), p)
    assert float(ok.data) == float(ref.data)


def test_a_reduction_changed_after_compile_counts(backend):
    z, lab = _setup(backend, seed=4)
    per = -np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1)[:, 0]
    y = backend.asarray(lab)
    loss = losses.SparseCategoricalCrossentropy()
    lc = LossContainer(loss)
    _, p = _forward(backend, z)
    np.testing.assert_allclose(float(lc(y, p).data), per.mean(), rtol=1e-5)
    loss.reduction = "sum"
    _, p = _forward(backend, z)
    np.testing.assert_allclose(float(lc(y, p).data), per.sum(), rtol=1e-5)


@pytest.mark.parametrize("spec", ["sparse_categorical_crossentropy", "class"])
def test_masked_entries_leave_the_mean_on_the_batch_mean_path(backend, spec):
    z, lab = _setup(backend, seed=5)
    per = -np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1)[:, 0]
    keep = np.arange(len(lab)) % 3 != 0
    _, p = _forward(backend, z)
    if spec == "class":  # entries of the ignored class
        lab[~keep] = 3
        per = -np.take_along_axis(_ref_log_softmax(z), lab[:, None], -1)[:, 0]
        keep = lab != 3
        loss = losses.SparseCategoricalCrossentropy(ignore_class=3)
    else:  # a Keras mask on the predictions
        p._keras_mask = backend.asarray(keep)
        loss = spec
    got = LossContainer(loss)(backend.asarray(lab), p)
    assert got.shape == ()
    np.testing.assert_allclose(float(got.data), per[keep].sum() / keep.sum(), rtol=1e-5)
