"""Loss classes: reductions, sample weights (with zeros), masks and ignore_class."""

import math

import numpy as np
import pytest

from gpunet import losses
from gpunet.autograd.tensor import Tensor

Y = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
P = np.array([[1.0, 1.0], [1.0, 3.0], [0.0, 0.0]])
PER = np.array([0.5, 2.0, 2.0])          # mean squared error per row, by hand


def val(t, backend):
    return backend.to_numpy(t.data)


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", PER.sum() / 3), ("mean", PER.sum() / 3), ("sum", PER.sum()),
    ("none", PER), (None, PER)])
def test_reductions(backend, reduction, expected):
    loss = losses.MeanSquaredError(reduction=reduction)
    out = loss(backend.asarray(Y), backend.asarray(P))
    np.testing.assert_allclose(val(out, backend), expected, rtol=1e-7)


def test_sample_weights_with_zeros(backend):
    w = np.array([2.0, 0.0, 0.5])
    a = backend.asarray
    m = losses.MeanSquaredError()
    # divided by the number of elements (3), not by sum(w)
    assert float(m(a(Y), a(P), sample_weight=a(w)).data) == pytest.approx((1 + 0 + 1) / 3)
    s = losses.MeanSquaredError(reduction="sum")(a(Y), a(P), sample_weight=w)
    assert float(s.data) == pytest.approx(2.0)
    n = losses.MeanSquaredError(reduction="none")(a(Y), a(P), sample_weight=w[:, None])
    np.testing.assert_allclose(val(n, backend), PER * w)
    mw = losses.MeanSquaredError(reduction="mean_with_sample_weight")(a(Y), a(P), w)
    assert float(mw.data) == pytest.approx(2.0 / 2.5)
    zero = losses.MeanSquaredError(reduction="mean_with_sample_weight")(a(Y), a(P), w * 0)
    assert float(zero.data) == 0.0
    all_zero = m(a(Y), a(P), sample_weight=np.zeros(3))
    assert float(all_zero.data) == 0.0


def test_sequence_sample_weights_broadcast_over_time(backend):
    y = np.zeros((2, 3, 1))
    p = np.arange(6.0).reshape(2, 3, 1)
    w = np.array([1.0, 0.0])
    out = losses.MeanAbsoluteError()(backend.asarray(y), backend.asarray(p), sample_weight=w)
    assert float(out.data) == pytest.approx((0 + 1 + 2) / 6)
    wt = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    out = losses.MeanAbsoluteError(reduction="sum")(backend.asarray(y), backend.asarray(p), wt)
    assert float(out.data) == pytest.approx(0 + 2 + 2 * 5)


def test_bad_sample_weight_shape(backend):
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4.*\(3,\)"):
        losses.MeanSquaredError()(backend.asarray(Y), backend.asarray(P), np.ones(4))


def test_ignore_class_leaves_the_mean(backend):
    p = np.array([[0.05, 0.95, 0.0], [0.3, 0.3, 0.4], [0.1, 0.8, 0.1], [0.5, 0.2, 0.3]])
    lab = np.array([1, -1, 2, -1])
    a = backend.asarray
    l1, l2 = -math.log(0.95), -math.log(0.1)
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss(a(lab), a(p)).data) == pytest.approx((l1 + l2) / 2, rel=1e-6)
    s = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="sum")(a(lab), a(p))
    assert float(s.data) == pytest.approx(l1 + l2, rel=1e-6)
    n = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="none")(a(lab), a(p))
    np.testing.assert_allclose(val(n, backend), [l1, 0, l2, 0], rtol=1e-6)
    w = np.array([2.0, 5.0, 0.0, 5.0])
    assert float(loss(a(lab), a(p), sample_weight=w).data) == pytest.approx(2 * l1 / 2, rel=1e-6)
    # every entry ignored: 0, not NaN
    everything = loss(a(np.array([-1, -1])), a(p[:2]))
    assert float(everything.data) == 0.0
    # the function form carries the mask too
    per = losses.sparse_categorical_crossentropy(a(lab), a(p), ignore_class=-1)
    assert float(losses.reduce_loss(per).data) == pytest.approx((l1 + l2) / 2, rel=1e-6)


def test_ignore_class_may_be_out_of_range_and_a_valid_class(backend):
    p = np.array([[0.25, 0.75], [0.5, 0.5]])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=0)
    out = loss(backend.asarray(np.array([0, 1])), backend.asarray(p))
    assert float(out.data) == pytest.approx(-math.log(0.5), rel=1e-6)
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255, from_logits=True)
    out = loss(backend.asarray(np.array([255, 1])), backend.asarray(np.log(p)))
    assert float(out.data) == pytest.approx(-math.log(0.5), rel=1e-6)


def test_keras_mask_on_predictions_is_respected(backend):
    p = Tensor(backend.asarray(np.array([[[1.0], [2.0]], [[3.0], [4.0]]])))
    p._keras_mask = backend.asarray(np.array([[True, False], [True, True]]))
    y = backend.asarray(np.zeros((2, 2, 1)))
    out = losses.MeanSquaredError()(y, p)
    assert float(out.data) == pytest.approx((1 + 9 + 16) / 3)
    out = losses.MeanSquaredError(reduction="sum")(y, p)
    assert float(out.data) == pytest.approx(1 + 9 + 16)


def test_scalar_values_are_returned_unreduced(backend):
    out = losses.reduce_loss(Tensor(backend.asarray(np.array(3.0))), reduction="sum")
    assert float(out.data) == 3.0


def test_custom_loss_subclass(backend):
    from gpunet import ops

    class Cube(losses.Loss):
        def call(self, y_true, y_pred):
            return ops.mean(ops.abs(y_pred - y_true) ** 3, axis=-1)

    out = Cube(reduction="sum")(backend.asarray(Y), backend.asarray(P))
    assert float(out.data) == pytest.approx(0.5 + 4.0 + 4.0)
    assert Cube().name == "cube"
