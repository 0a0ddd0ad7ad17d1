"""The CPU fast paths (Numba kernels, ``gpunet[numba]``) equal the pure-NumPy reference paths
(``GPUNET_NUMBA=0``) exactly, ties included, and pass float64 gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.backend.kernels.numba_cpu import _STATE as _NUMBA_STATE
from gpunet.backend.kernels.numba_cpu import numba_enabled

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _small_arrays_too(monkeypatch):
    """The kernels serve large arrays only; these tests run them on small ones too."""
    from gpunet.backend.kernels import numba_cpu

    monkeypatch.setattr(numba_cpu, "MIN_SIZE", 0)


def _pool_run(x, padding, monkeypatch, numba_on):
    monkeypatch.setenv("GPUNET_NUMBA", "1" if numba_on else "0")
    assert numba_enabled() is numba_on
    t = Tensor(x, requires_grad=True)
    y = ops.max_pool2d(t, 2, 2, padding)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    y.backward(g)
    return y.data, t.grad


@pytest.mark.parametrize("shape", [(3, 8, 6, 5), (2, 7, 9, 3), (1, 5, 5, 1), (4, 26, 26, 32)])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_2x2_numba_equals_numpy(shape, padding, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, shape).astype(dtype)  # few values: many ties inside windows
    ref = _pool_run(x, padding, monkeypatch, False)
    fast = _pool_run(x, padding, monkeypatch, True)
    for a, b in zip(ref, fast):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_max_pool_2x2_ties_go_to_the_first_cell(monkeypatch):
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    x = np.array([[1., 3.], [3., 3.]])[None, :, :, None]  # the max 3 is at (0,1), (1,0), (1,1)
    t = Tensor(x, requires_grad=True)
    ops.max_pool2d(t, 2).backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(t.grad[0, :, :, 0], [[0., 1.], [0., 0.]])


def test_max_pool_2x2_numba_gradient(monkeypatch):
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3))  # odd height: a dropped row
    check_grad(lambda t: ops.max_pool2d(t, 2, 2, "valid"), [x])
    check_grad(lambda t: ops.max_pool2d(t, 2, 2, "same"), [x])


def test_max_pool_2x2_inference_keeps_no_index(monkeypatch):
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    x = np.random.default_rng(3).standard_normal((2, 4, 4, 3)).astype("float32")
    y = ops.max_pool2d(Tensor(x), 2)
    np.testing.assert_array_equal(y.data, x.reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4)))


@pytest.mark.parametrize("shape,kw", [((3, 9, 8, 1), {}), ((2, 7, 7, 4), {"padding": "same"}),
                                      ((2, 8, 9, 3), {"strides": 2}),
                                      ((2, 9, 9, 2), {"dilation_rate": 2, "padding": "same"})])
def test_conv_fused_relu_gradient_numba_equals_numpy(shape, kw, monkeypatch):
    # the ReLU gradient is exact; the input gradient sums the same products in another order
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype("float32")
    w = rng.standard_normal((3, 3, shape[-1], 5)).astype("float32")
    b = rng.standard_normal(5).astype("float32")
    out, g = [], None
    for flag in ("0", "1"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        y = ops.conv2d(*ts, activation="relu", **kw)
        if g is None:  # the same upstream gradient for both paths
            g = rng.standard_normal(y.shape).astype("float32")
        y.backward(g)
        out.append([y.data] + [t.grad for t in ts])
    for a, c in zip(*out):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)


def test_conv_fused_relu_numba_gradient(monkeypatch):
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 6, 5, 2)), rng.standard_normal((3, 3, 2, 3))
    b = rng.standard_normal(3)
    check_grad(lambda *t: ops.conv2d(*t, activation="relu"), [x, w, b])
    check_grad(lambda *t: ops.conv2d(*t, strides=2, padding="same"), [x, w, b])
    check_grad(lambda *t: ops.conv2d(*t, dilation_rate=2), [x, w, b])


def test_the_backend_serves_the_kernels_only_when_enabled(monkeypatch):
    from gpunet.backend import numpy_backend

    b = numpy_backend()
    x = np.ones((2, 4, 4, 3), "float32")
    gy, w2 = np.ones((32, 5), "float32"), np.ones((27, 5), "float32")
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    assert b.max_pool2x2(x, (2, 2), True) is not None
    assert b.conv_input_grad(gy, w2, (2, 4, 4), (2, 6, 6, 3), (3, 3), (1, 1), (1, 1)) is not None
    monkeypatch.setenv("GPUNET_NUMBA", "0")
    assert b.max_pool2x2(x, (2, 2), True) is None
    assert b.conv_input_grad(gy, w2, (2, 4, 4), (2, 6, 6, 3), (3, 3), (1, 1), (1, 1)) is None


_MASK = np.random.default_rng(7).random((5, 6)) > 0.3
RNN_CASES = {
    "last": {},
    "sequences_states": {"return_sequences": True, "return_state": True},
    "masked": {"return_sequences": True, "return_state": True, "mask": _MASK},
    "masked_last_backwards": {"mask": _MASK, "go_backwards": True},
    "zero_output": {"return_sequences": True, "mask": _MASK, "zero_output_for_mask": True},
}


def _rnn_tol(dtype: str) -> float:
    # the compiled time loops (gpunet.backend.kernels.numba_rnn_loops) use their own float32
    # exp and tanh (within 2 ulp of the true values, as NumPy's are): a few ulp apart from
    # NumPy's path after back-propagation through the steps
    return 5e-6 if dtype == "float32" else 1e-12


@pytest.mark.parametrize("loops", [True, False])
@pytest.mark.parametrize("case", sorted(RNN_CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_fused_steps_equal_numpy(case, dtype, loops, monkeypatch):
    if not loops:  # the per-step Numba kernels, as where NumPy's OpenBLAS has no CBLAS gemm
        monkeypatch.setitem(_NUMBA_STATE, "cblas", None)
    rng = np.random.default_rng(8)
    u = 4
    args = [rng.standard_normal(s).astype(dtype) * 0.7
            for s in ((5, 6, 3), (3, 4 * u), (u, 4 * u), (4 * u,), (5, u), (5, u))]
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        ts = [Tensor(a, requires_grad=True) for a in args]
        out = ops.lstm(ts[0], ts[1], ts[2], ts[3], [ts[4], ts[5]], **RNN_CASES[case])
        outs = out if isinstance(out, tuple) else (out,)
        total = sum((o * (k + 1.5)).sum() for k, o in enumerate(outs))
        total.backward()
        results.append([o.data for o in outs] + [t.grad for t in ts])
    tol = _rnn_tol(dtype)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("loops", [True, False])
@pytest.mark.parametrize("case", sorted(RNN_CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gru_fused_steps_equal_numpy(case, dtype, loops, monkeypatch):
    if not loops:  # the per-step Numba kernels, as where NumPy's OpenBLAS has no CBLAS gemm
        monkeypatch.setitem(_NUMBA_STATE, "cblas", None)
    rng = np.random.default_rng(9)
    u = 4
    args = [rng.standard_normal(s).astype(dtype) * 0.7
            for s in ((5, 6, 3), (3, 3 * u), (u, 3 * u), (2, 3 * u), (5, u))]
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        ts = [Tensor(a, requires_grad=True) for a in args]
        out = ops.gru(ts[0], ts[1], ts[2], ts[3], ts[4], **RNN_CASES[case])
        outs = out if isinstance(out, tuple) else (out,)
        total = sum((o * (k + 1.5)).sum() for k, o in enumerate(outs))
        total.backward()
        results.append([o.data for o in outs] + [t.grad for t in ts])
    tol = _rnn_tol(dtype)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_parallel_kernels_from_several_threads():
    """Numba's workqueue layer aborts the process when two threads launch parallel kernels at
    once; the kernels take turns, so threads that pool and convolve at once are safe."""
    import subprocess
    import sys

    code = """
import threading
import numpy as np
from gpunet import ops
from gpunet.autograd import Tensor

def work(seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        t = Tensor(rng.standard_normal((64, 26, 26, 32)).astype("float32"), requires_grad=True)
        ops.max_pool2d(t, 2).sum().backward()

threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "GPUNET_NUMBA": "1"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_float16_keeps_the_numpy_paths(monkeypatch):
    """Numba's float16 arithmetic is incomplete: half-precision arrays take the NumPy paths."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 6, 6, 3)).astype("float16")
    args = [rng.standard_normal(s).astype("float16") * 0.5
            for s in ((2, 3, 3), (3, 8), (2, 8), (8,))]
    out = []
    for flag in ("0", "1"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        t = Tensor(x, requires_grad=True)
        ops.max_pool2d(t, 2).sum().backward()
        ts = [Tensor(a, requires_grad=True) for a in args]
        ops.lstm(*ts).sum().backward()
        out.append([t.grad] + [a.grad for a in ts])
    for a, b in zip(*out):
        assert a.dtype == np.float16
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(128, 512), (600, 512)])  # one-thread and threaded passes
def test_relu_gradient_kernels_equal_numpy(shape):
    from gpunet.backend.kernels import numba_cpu

    if not numba_cpu.numba_enabled():
        pytest.skip("Numba is not installed or GPUNET_NUMBA=0")
    rng = np.random.default_rng(6)
    gy = rng.standard_normal(shape).astype("float32")
    y = np.maximum(rng.standard_normal(shape), 0).astype("float32")
    out = numba_cpu.relu_grad(gy, y)
    assert out is not None
    np.testing.assert_array_equal(out, gy * (y > 0))


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_one_pass_kernels_equal_numpy(relu, dtype, monkeypatch):
    # the fused Dense with Numba (bias + ReLU in one pass, ReLU gradient + bias gradient in
    # one pass) against GPUNET_NUMBA=0, to the bit: forward, and every gradient
    from gpunet.backend.kernels import numba_cpu

    if not numba_cpu.numba_enabled():
        pytest.skip("Numba is not installed or GPUNET_NUMBA=0")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 96)).astype(dtype)
    x[0, :3] = np.nan
    w = rng.standard_normal((96, 80)).astype(dtype)
    b = rng.standard_normal(80).astype(dtype)
    g = rng.standard_normal((64, 80)).astype(dtype)
    out = []
    for flag in ("1", "0"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        y = ops.dense(*ts, activation="relu" if relu else None)
        y.backward(g)
        out.append([y.data] + [t.grad for t in ts])
    for a, c in zip(*out):
        np.testing.assert_array_equal(a, c)


def test_embedding_row_scatter_equals_add_at(monkeypatch):
    # repeated and negative ids; the compiled loop adds rows in the order np.add.at does
    rng = np.random.default_rng(8)
    w = rng.standard_normal((50, 16)).astype("float32")
    ids = rng.integers(-50, 50, size=(8, 30))
    ids[0, :5] = 7
    g = rng.standard_normal((8, 30, 16)).astype("float32")
    grads = []
    for flag in ("1", "0"):
        monkeypatch.setenv("GPUNET_NUMBA", flag)
        t = Tensor(w, requires_grad=True)
        ops.embedding_lookup(t, ids).backward(g)
        grads.append(t.grad)
    np.testing.assert_array_equal(grads[0], grads[1])
    ref = np.zeros_like(w)
    np.add.at(ref, ids.reshape(-1) % 50, g.reshape(-1, 16))
    np.testing.assert_array_equal(grads[0], ref)


@pytest.mark.parametrize("shape", [(64, 100), (3000, 128)])  # one thread, both cores
def test_in_place_relu_kernels_equal_numpy(shape):
    from gpunet.backend import numpy_backend
    from gpunet.backend.kernels import numba_cpu

    if not numba_cpu.numba_enabled():
        pytest.skip("Numba is not installed or GPUNET_NUMBA=0")
    y = np.random.default_rng(9).standard_normal(shape).astype("float32")
    y[0, :2] = np.nan
    ref = np.maximum(y, 0)
    numpy_backend().bias_act(y, None, True)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("numba_flag", ["1", "0"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_relu_then_max_pool_hands_the_relu_mask_over(numba_flag, padding, monkeypatch):
    # the pool applies the convolution's ReLU mask to its (4x smaller) output gradient and the
    # convolution skips its own pass: every gradient is the one of the separate passes
    monkeypatch.setenv("GPUNET_NUMBA", numba_flag)
    import importlib

    conv_mod = importlib.import_module("gpunet.ops.conv")

    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 11, 11, 3)).astype("float32")
    w = rng.standard_normal((3, 3, 3, 8)).astype("float32")
    b = rng.standard_normal(8).astype("float32")
    g = rng.standard_normal((4, 4, 4, 8) if padding == "valid" else (4, 6, 6, 8))
    from gpunet.backend import numpy_backend

    sizes = []
    real = type(numpy_backend()).relu_grad
    monkeypatch.setattr(type(numpy_backend()), "relu_grad",
                        lambda self, gy, y: sizes.append(gy.size) or real(self, gy, y))
    outs = []
    for handoff in (True, False):
        if handoff:
            expect = [g.size]  # one pass, over the pooled gradient
        else:  # the pool's result never matches: the convolution masks itself
            expect = [g.size, 4 * (9 if padding == "valid" else 11) ** 2 * 8]
            monkeypatch.setattr(conv_mod.Conv, "relu_applied_to", property(lambda s: None,
                                                                           lambda s, v: None))
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        y = ops.max_pool2d(ops.conv2d(*ts, activation="relu", padding=padding), 2, 2, padding)
        sizes.clear()
        y.backward(g.astype("float32"))
        assert sizes == expect
        outs.append([y.data] + [t.grad for t in ts])
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)


def test_conv_relu_output_read_by_a_pool_and_another_op(monkeypatch):
    # the conv output feeds the pool and a sum: the summed gradient is masked by the conv
    monkeypatch.setenv("GPUNET_NUMBA", "1")
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((3, 3, 2, 3))

    def f(xt, wt):
        y = ops.conv2d(xt, wt, activation="relu")
        return ops.sum(ops.max_pool2d(y, 2, 2)) + ops.sum(y * y)

    check_grad(f, [x, w])


def test_the_column_copy_split_over_threads_equals_one_copy(monkeypatch):
    # a convolution large enough for im2col's threaded copy, against the copy in one block
    from gpunet.backend import numpy_backend

    rng = np.random.default_rng(13)
    x = rng.standard_normal((32, 14, 14, 16)).astype("float32")
    w = rng.standard_normal((3, 3, 16, 8)).astype("float32")
    b = rng.standard_normal(8).astype("float32")
    if len(numpy_backend().row_blocks(32)) < 2:
        pytest.skip("one CPU thread: the copy is not split")
    split = ops.conv2d(Tensor(x), Tensor(w), Tensor(b)).data
    monkeypatch.setattr(type(numpy_backend()), "row_blocks", lambda self, n: [slice(0, n)])
    one = ops.conv2d(Tensor(x), Tensor(w), Tensor(b)).data
    np.testing.assert_array_equal(split, one)
