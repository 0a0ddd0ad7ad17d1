"""Mean, Sum and MeanMetricWrapper: weighting rules, reset, device-resident state."""

import numpy as np
import pytest

from gpunet import metrics
from gpunet.autograd.tensor import Tensor


def test_mean_and_sum_documented_values(backend):
    a = backend.asarray
    m = metrics.Mean()
    m.update_state(a(np.array([1.0, 3, 5, 7])))
    assert float(m.result()) == 4.0
    m.reset_state()
    m.update_state(a(np.array([1.0, 3, 5, 7])), sample_weight=a(np.array([1.0, 1, 0, 0])))
    assert float(m.result()) == 2.0
    s = metrics.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(s.result()) == 4.0


def test_mean_accumulates_across_batches_and_resets(backend):
    m = metrics.Mean()
    assert float(m.result()) == 0.0                 # nothing seen: 0, not NaN
    m.update_state(backend.asarray(np.array([1.0, 2.0])), sample_weight=[1.0, 3.0])
    m.update_state(backend.asarray(np.array([10.0])), sample_weight=[0.0])
    m.update_state(backend.asarray(np.array([4.0])))
    assert float(m.result()) == pytest.approx((1 + 6 + 0 + 4) / (1 + 3 + 0 + 1))
    m.reset_state()
    assert float(m.result()) == 0.0
    m.update_state(backend.asarray(np.array([5.0])), sample_weight=[0.0])
    assert float(m.result()) == 0.0                 # all weights zero: 0, not NaN


def test_values_reduce_to_one_per_sample(backend):
    v = np.array([[1.0, 3.0], [5.0, 7.0], [0.0, 2.0]])
    m = metrics.Mean()
    m.update_state(backend.asarray(v))
    assert float(m.result()) == pytest.approx(v.mean())
    m.reset_state()
    w = np.array([1.0, 0.0, 2.0])
    m.update_state(backend.asarray(v), sample_weight=w)
    assert float(m.result()) == pytest.approx((2 * 1 + 1 * 2) / 3)
    m.reset_state()
    w2 = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    m.update_state(backend.asarray(v), sample_weight=w2)
    assert float(m.result()) == pytest.approx((1 + 0 + 2) / 3)
    s = metrics.Sum()
    s.update_state(backend.asarray(v), sample_weight=w)
    assert float(s.result()) == pytest.approx(4 * 1 + 2 * 2)


def test_scalar_sample_weight(backend):
    m = metrics.Mean()
    m.update_state(backend.asarray(np.array([1.0, 3.0])), sample_weight=2.0)
    m.update_state(backend.asarray(np.array([6.0])), sample_weight=1.0)
    assert float(m.result()) == pytest.approx((2 * 2 + 6) / 3)


def on_device(x, backend):
    """A device array of the backend (NumPy reductions give NumPy scalars, also fine)."""
    if backend.name == "numpy":
        return isinstance(x, (np.ndarray, np.generic))
    return isinstance(x, backend.xp.ndarray)


def test_state_lives_on_the_backend(backend):
    m = metrics.Mean()
    m.update_state(backend.asarray(np.array([1.0, 2.0], "float32")))
    assert on_device(m.total, backend) and m.count == 2
    assert on_device(m.result(), backend) and np.shape(m.result()) == ()
    m.update_state(backend.asarray(np.array([1.0])), sample_weight=backend.asarray(np.ones(1)))
    assert on_device(m.total, backend) and on_device(m.count, backend)
    w = metrics.MeanSquaredError()
    w.update_state(Tensor(backend.asarray(np.zeros((2, 1)))), backend.asarray(np.ones((2, 1))))
    assert on_device(w.total, backend)
    assert float(w.result()) == 1.0


def test_update_total_is_the_training_loop_path(backend):
    m = metrics.Mean("loss")
    m.update_total(backend.asarray(np.array(6.0)), 3)
    m.update_total(backend.asarray(np.array(2.0)), 1)
    assert float(m.result()) == 2.0


def test_wrapper_with_keras_mask_on_predictions(backend):
    p = Tensor(backend.asarray(np.array([[[1.0], [2.0]], [[3.0], [4.0]]])))
    p._keras_mask = backend.asarray(np.array([[True, False], [True, True]]))
    m = metrics.MeanAbsoluteError()
    m.update_state(backend.asarray(np.zeros((2, 2, 1))), p)
    # per sample means over valid steps: row 0 -> 1 (weight 1/2), row 1 -> 3.5 (weight 1)
    assert float(m.result()) == pytest.approx((1 * 0.5 + 3.5 * 1) / 1.5)


def test_call_updates_and_returns_result(backend):
    m = metrics.Mean()
    assert float(m([2.0, 4.0])) == 3.0
    assert float(m([6.0])) == 4.0


@pytest.mark.parametrize("kind", ["float32", "int", "list", "scalar", "2d"])
def test_wrapper_means_what_any_function_returns(backend, kind):
    """The plain path (1-D float values, no weights or mask) and the general one agree."""
    vals = {"float32": np.array([1.0, 0.0, 0.5, 0.5], "float32"),
            "int": np.array([1, 0, 1, 0]),
            "list": [1.0, 0.0, 0.25, 0.75],
            "scalar": 0.5,
            "2d": np.array([[1.0, 0.0], [0.5, 0.5]], "float32")}[kind]

    def fn(y_true, y_pred):
        return backend.asarray(vals) if isinstance(vals, np.ndarray) else vals

    m = metrics.MeanMetricWrapper(fn, name="m")
    y = backend.asarray(np.zeros((4, 1), "float32"))
    for _ in range(2):
        m.update_state(y, y)
    assert float(m.result()) == pytest.approx(0.5)
    expected_count = {"scalar": 2, "2d": 4}.get(kind, 8)
    assert float(backend.to_numpy(m.count)) == expected_count
