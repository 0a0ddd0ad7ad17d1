"""The define-by-run engine: recording, gradient routing, accumulation, no_grad, flat buffers."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Function, Tensor, Variable, enable_grad, grad_enabled, no_grad
from gpunet.autograd.flat import pack
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops.math import Multiply
from gpunet.ops.nn import Dense


def _t(backend, a, requires_grad=False):
    return Tensor(backend.asarray(np.asarray(a, dtype="float64")), requires_grad=requires_grad)


def _np(backend, a):
    return backend.to_numpy(a)


# -- needs_input_grad ----------------------------------------------------------------------------


def test_needs_input_grad_reflects_which_inputs_require_grad(backend):
    a = _t(backend, [1.0, 2.0], requires_grad=True)
    b = _t(backend, [3.0, 4.0])
    f = Multiply()
    y = f(a, b)
    assert f.needs_input_grad == (True, False)
    ga, gb = f.backward(backend.xp.ones(2))
    assert gb is None
    np.testing.assert_allclose(_np(backend, ga), [3.0, 4.0])
    y.backward(backend.xp.ones(2))
    assert b.grad is None
    np.testing.assert_allclose(_np(backend, a.grad), [3.0, 4.0])


def test_dense_first_layer_returns_no_input_gradient(backend):
    x = _t(backend, np.arange(6).reshape(2, 3))  # data: no gradient wanted
    w = Variable(backend.asarray(np.ones((3, 2))), name="kernel")
    b = Variable(backend.asarray(np.zeros(2)), name="bias")
    f = Dense()
    f(x, w, b)
    assert f.needs_input_grad == (False, True, True)
    gx, gw, gb = f.backward(backend.xp.ones((2, 2)))
    assert gx is None
    np.testing.assert_allclose(_np(backend, gw), [[3, 3], [5, 5], [7, 7]])
    np.testing.assert_allclose(_np(backend, gb), [2, 2])


def test_dense_returns_input_gradient_when_wanted(backend):
    x = _t(backend, np.arange(6).reshape(2, 3), requires_grad=True)
    w = Variable(backend.asarray(np.ones((3, 2))), name="kernel", trainable=False)
    f = Dense()
    f(x, w)
    assert f.needs_input_grad == (True, False)
    gx, gw, *_ = f.backward(backend.xp.ones((2, 2)))
    assert gw is None
    np.testing.assert_allclose(_np(backend, gx), np.full((2, 3), 2.0))


def test_nothing_recorded_when_no_input_requires_grad(backend):
    a = _t(backend, [1.0, 2.0])
    y = ops.exp(a) * 2
    assert y.creator is None and not y.requires_grad


# -- gradient routing and accumulation ----------------------------------------------------------


def test_fan_out_of_a_leaf_accumulates(backend):
    x = _t(backend, [1.0, 2.0, -3.0], requires_grad=True)
    y = x * x + ops.sin(x) + x  # x used four times
    y.sum().backward()
    xs = np.array([1.0, 2.0, -3.0])
    np.testing.assert_allclose(_np(backend, x.grad), 2 * xs + np.cos(xs) + 1)


def test_fan_out_of_an_intermediate_node_accumulates(backend):
    x = _t(backend, [0.5, -1.5], requires_grad=True)
    h = x * 3.0
    y = h * h + h  # h feeds two nodes; its creator must see the summed gradient once
    y.sum().backward()
    xs = np.array([0.5, -1.5])
    np.testing.assert_allclose(_np(backend, x.grad), 3 * (2 * 3 * xs + 1))


def test_fan_out_of_a_variable_accumulates(backend):
    v = Variable(backend.asarray(np.array([1.0, -2.0])))
    ops.sum(v * v + v).backward()
    np.testing.assert_allclose(_np(backend, v.grad), [3.0, -3.0])


def test_same_tensor_twice_in_one_op(backend):
    x = _t(backend, [2.0, 5.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_allclose(_np(backend, x.grad), [2.0, 2.0])


def test_leaf_gradients_are_not_aliased_to_each_other_or_to_the_seed(backend):
    # Add's backward hands the same array to both inputs; each leaf must own its gradient.
    v, w = (Variable(backend.asarray(np.ones(3))) for _ in range(2))
    seed = backend.xp.ones(3)
    (v + w).backward(seed)
    (v + w).backward(seed)
    np.testing.assert_allclose(_np(backend, v.grad), [2.0] * 3)
    np.testing.assert_allclose(_np(backend, w.grad), [2.0] * 3)
    np.testing.assert_allclose(_np(backend, seed), [1.0] * 3)
    a, b = _t(backend, [1.0], True), _t(backend, [1.0], True)
    (a + b).sum().backward()
    a.grad[...] = 0
    np.testing.assert_allclose(_np(backend, b.grad), [1.0])


def test_gradients_accumulate_over_backward_calls_on_new_graphs(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * 2).sum().backward()
    np.testing.assert_allclose(_np(backend, x.grad), [6.0, 6.0])


def test_second_backward_on_the_same_graph_is_refused(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    y = (ops.exp(x) * 2).sum()
    y.backward()
    first = _np(backend, x.grad).copy()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_allclose(_np(backend, x.grad), first)


def test_backward_through_a_subgraph_freed_by_another_root_is_refused(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    h = ops.exp(x)
    ops.sum(h * 2).backward()
    with pytest.raises(RuntimeError, match="backward"):
        ops.sum(h * 3).backward()


def test_backward_needs_scalar_or_explicit_gradient(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"scalar.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(_t(backend, [1.0, 10.0]))  # a Tensor seed is accepted too
    np.testing.assert_allclose(_np(backend, x.grad), [2.0, 20.0])


def test_backward_from_a_leaf(backend):
    x = _t(backend, [4.0], requires_grad=True)
    x.backward()
    np.testing.assert_allclose(_np(backend, x.grad), [1.0])


class _SplitHalves(Function):
    def forward(self, x):
        n = x.shape[0] // 2
        return x[:n] * 2, x[n:] * 3

    def backward(self, g1, g2):
        return backend_cat(g1 * 2, g2 * 3)


def backend_cat(a, b):
    from gpunet.ops._utils import xp_of

    return xp_of(a).concatenate([a, b])


def test_multi_output_function_with_an_unused_output(backend):
    x = _t(backend, [1.0, 2.0, 3.0, 4.0], requires_grad=True)
    first, second = _SplitHalves()(x)
    assert first.creator is second.creator
    ops.sum(second).backward()  # the unused output's gradient is filled with zeros
    np.testing.assert_allclose(_np(backend, x.grad), [0, 0, 3, 3])


def test_only_inputs_requiring_grad_receive_gradients(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    c = _t(backend, [5.0, 7.0])
    (x * c + c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(_np(backend, x.grad), [5.0, 7.0])


# -- no_grad ----------------------------------------------------------------------------------


def test_no_grad_records_nothing(backend):
    x = _t(backend, [1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not grad_enabled()
        y = ops.exp(x) * x
        z = ops.dense(ops.reshape(x, (1, 2)), Variable(backend.asarray(np.ones((2, 2)))))
    assert grad_enabled()
    for t in (y, z):
        assert t.creator is None and not t.requires_grad
    np.testing.assert_allclose(_np(backend, y.data), np.exp([1.0, 2.0]) * [1.0, 2.0])


def test_no_grad_nests_restores_after_errors_and_enable_grad_reenables(backend):
    x = _t(backend, [1.0], requires_grad=True)
    with pytest.raises(KeyError), no_grad():
        with no_grad():
            pass
        assert not grad_enabled()
        raise KeyError
    assert grad_enabled()
    with no_grad():
        with enable_grad():
            y = x * 2
        assert not grad_enabled()
    assert y.creator is not None


def test_no_grad_in_one_thread_leaves_the_others_recording(backend):
    import threading

    x = _t(backend, [1.0], requires_grad=True)
    inside, release, seen = threading.Event(), threading.Event(), {}

    def worker():
        with no_grad():
            seen["worker"] = grad_enabled()
            inside.set()
            release.wait(5)
        seen["worker_after"] = grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(5)
    try:  # the worker's block is open: this thread still records, and its own block works
        assert grad_enabled()
        assert (x * 2).creator is not None
        with no_grad():
            assert not grad_enabled() and (x * 2).creator is None
            with enable_grad():
                assert (x * 2).creator is not None
        assert grad_enabled()
    finally:
        release.set()
        t.join(5)
    assert seen == {"worker": False, "worker_after": True}
    assert grad_enabled() and (x * 2).creator is not None


# -- flat buffers -------------------------------------------------------------------------------


def test_variables_in_a_flat_buffer_receive_grads_in_place(backend):
    xs = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    kernel = Variable(backend.asarray(np.arange(6.0).reshape(3, 2) / 10), name="kernel")
    bias = Variable(backend.asarray(np.array([0.1, -0.2])), name="bias")
    other = Variable(backend.asarray(np.array([1.0, 2.0])), name="other")
    (group,) = pack([kernel, bias, other])
    assert group.spans == [(0, 6), (6, 8), (8, 10)]
    for v in (kernel, bias, other):
        assert np.shares_memory(v.data, group.data) and np.shares_memory(v.grad, group.grad)
    kernel_grad_view = kernel.grad
    x = Tensor(backend.asarray(xs))

    def step():
        group.begin_step()
        y = ops.dense(x, kernel, bias)
        (ops.sum(y * y) + ops.sum(bias * bias)).backward()  # bias fans out; `other` unused
        group.end_step()

    group.grad[...] = 7.0  # stale values from an earlier step
    step()
    k, b = backend.to_numpy(kernel.data), backend.to_numpy(bias.data)
    y = xs @ k + b
    exp_k, exp_b = xs.T @ (2 * y), (2 * y).sum(0) + 2 * b
    assert kernel.grad is kernel_grad_view  # written into the buffer, not rebound
    np.testing.assert_allclose(_np(backend, kernel.grad), exp_k)
    np.testing.assert_allclose(_np(backend, bias.grad), exp_b)
    np.testing.assert_allclose(_np(backend, other.grad), [0.0, 0.0])
    np.testing.assert_allclose(_np(backend, group.grad),
                               np.concatenate([exp_k.ravel(), exp_b, [0, 0]]))
    step()  # a new step overwrites instead of accumulating
    np.testing.assert_allclose(_np(backend, kernel.grad), exp_k)
    kernel.assign(np.zeros((3, 2)))  # assign writes through to the buffer
    assert float(backend.to_numpy(group.data[:6]).sum()) == 0.0


def test_pack_groups_by_dtype_keeping_order(backend):
    a = Variable(backend.asarray(np.zeros(2, "float32")))
    b = Variable(backend.asarray(np.ones(3, "float64")))
    c = Variable(backend.asarray(np.full(1, 2.0, "float32")))
    groups = pack([a, b, c])
    assert [g.variables for g in groups] == [[a, c], [b]]
    assert [str(g.data.dtype) for g in groups] == ["float32", "float64"]
    np.testing.assert_allclose(_np(backend, groups[0].data), [0, 0, 2])
    assert pack([a], with_grad=False)[0].grad is None


def test_variable_assign_checks_the_shape(backend):
    v = Variable(backend.asarray(np.zeros((2, 2))), path="dense/kernel")
    v.assign(Tensor(backend.asarray(np.ones((2, 2)))))
    np.testing.assert_allclose(_np(backend, v.data), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"dense/kernel.*\(2, 2\)"):
        v.assign(np.ones(3))


# -- Tensor operators and the gradient checker itself ---------------------------------------------


def test_tensor_operators_dispatch_to_ops(backend):
    x = _t(backend, [[1.0, 2.0], [3.0, 4.0]])
    xs = np.array([[1.0, 2.0], [3.0, 4.0]])
    cases = [(x + 1, xs + 1), (1 + x, 1 + xs), (x - 1, xs - 1), (1 - x, 1 - xs),
             (x * 2, xs * 2), (2 * x, 2 * xs), (x / 2, xs / 2), (2 / x, 2 / xs),
             (x ** 2, xs ** 2), (2 ** x, 2 ** xs), (x @ x, xs @ xs), (-x, -xs),
             (abs(-x), xs), (x[1], xs[1]), (x.T, xs.T), (x.reshape(4), xs.reshape(4)),
             (x.reshape(1, 4), xs.reshape(1, 4)), (x.sum(0), xs.sum(0)),
             (x.mean(axis=1, keepdims=True), xs.mean(1, keepdims=True))]
    for got, exp in cases:
        assert isinstance(got, Tensor)
        np.testing.assert_allclose(_np(backend, got.data), exp)
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4 and len(x) == 2
    assert float(x.sum()) == 10.0 and x.sum().item() == 10.0
    assert x.detach().creator is None


def test_integer_tensor_times_python_float_is_not_truncated(backend):
    x = Tensor(backend.asarray(np.array([1, 2, 3])))
    np.testing.assert_allclose(_np(backend, (x * 0.5).data), [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(_np(backend, (x * 2).data), [2, 4, 6])


class _WrongSquare(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return 3 * self.x * gy  # wrong on purpose


def test_check_grad_detects_a_wrong_backward(backend):
    with pytest.raises(AssertionError, match="input 0"):
        check_grad(lambda x: _WrongSquare()(x), [np.array([1.0, 2.0])], backend=backend)
    check_grad(lambda x: x * x, [np.array([1.0, 2.0])], backend=backend)


def test_check_grad_only_checks_the_requested_inputs(backend):
    def fn(a, b):
        assert not b.requires_grad
        return _WrongSquare()(b) + a

    check_grad(fn, [np.ones(2), np.ones(2)], backend=backend, wrt=[0])
