"""The LSTM and GRU time loops as one compiled call per block of rows
(``gpunet.backend.kernels.numba_rnn_loops``): their float32 ``exp`` and ``tanh`` against
float64 NumPy, and the ops' values and gradients against the NumPy paths (``GPUNET_NUMBA=0``)
and float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.backend import cpu_threads, get_backend
from gpunet.backend.kernels import numba_rnn_loops
from gpunet.backend.kernels.numba_cpu import _STATE

N, T, F, U = 7, 6, 3, 5


def _loops_or_skip(dtype="float32", kind="lstm"):
    bk = get_backend()
    if not bk.is_host:
        pytest.skip("the compiled loops are a CPU path")
    loops = getattr(bk, f"{kind}_loops")(np.dtype(dtype))
    if loops is None:
        pytest.skip("Numba or NumPy's CBLAS gemm is not available")
    return loops


def test_float32_exp_and_tanh_within_two_ulp():
    _loops_or_skip()
    exp_, tanh_ = _STATE["rnn_loops"][2:4]
    x = np.concatenate([np.linspace(-87.2, 88.6, 400_001), np.logspace(-30, 1, 5000),
                        -np.logspace(-30, 1, 5000), [0.0]]).astype(np.float32)
    e = x.copy()
    exp_(e)
    ref = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(e, ref, rtol=2 * 2.0 ** -23, atol=0)
    t = np.empty_like(x)
    tanh_(x, t)
    np.testing.assert_allclose(t, np.tanh(x.astype(np.float64)), rtol=2 * 2.0 ** -23,
                               atol=1e-45)
    # beyond float32's range: exp is clamped, finite, and the gates still saturate (to
    # under 1e-38 where the true sigmoid is under float32's smallest normal number)
    big = np.array([-1e4, -100.0, 100.0, 1e4, 50.0, -50.0], np.float32)
    e = big[:4].copy()
    exp_(e)
    assert np.all(np.isfinite(e)) and e[0] < 2e-38 and e[3] > 3e38
    np.testing.assert_allclose(1 / (1 + e), [1.0, 1.0, 0.0, 0.0], rtol=0, atol=1e-38)
    t = np.empty_like(big)
    tanh_(big, t)
    np.testing.assert_array_equal(t, np.tanh(big))


def _run(dtype, kw, h0=True, kind="lstm"):
    rng = np.random.default_rng(5)
    g = 4 if kind == "lstm" else 3
    bshape = (g * U,) if kind == "lstm" else (2, g * U)
    shapes = [(N, T, F), (F, g * U), (U, g * U), bshape, (N, U), (N, U)]
    ts = [Tensor((rng.standard_normal(s) * 0.8).astype(dtype), requires_grad=True)
          for s in shapes]
    if kind == "lstm":
        state = [ts[4], ts[5]] if h0 else None
        out = ops.rnn.lstm(ts[0], ts[1], ts[2], ts[3], state, **kw)
        used = ts if h0 else ts[:4]
    else:
        out = ops.rnn.gru(ts[0], ts[1], ts[2], ts[3], ts[4] if h0 else None, reset_after=True,
                          **kw)
        used = ts[:5] if h0 else ts[:4]
    outs = out if isinstance(out, tuple) else (out,)
    total = sum((o * (k + 1.5)).sum() for k, o in enumerate(outs))
    total.backward()
    return [o.data for o in outs] + [t.grad for t in used]


MASK = np.random.default_rng(9).random((N, T)) > 0.35
CASES = {
    "last": ({}, False),
    "sequences_states": ({"return_sequences": True, "return_state": True}, True),
    "backwards_states": ({"go_backwards": True, "return_state": True}, True),
    "masked": ({"mask": MASK, "return_sequences": True, "return_state": True}, True),
    "masked_last": ({"mask": MASK}, False),
    "masked_zero_output": ({"mask": MASK, "return_sequences": True,
                            "zero_output_for_mask": True}, True),
    "masked_backwards": ({"mask": MASK, "go_backwards": True, "return_state": True}, True),
}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_loop_equals_numpy_path(case, dtype, threads, kind, monkeypatch):
    _loops_or_skip(dtype, kind)
    monkeypatch.setattr(cpu_threads, "MIN_ROWS", 1)
    monkeypatch.setenv("GPUNET_CPU_THREADS", threads)
    calls = []
    name = f"{kind}_loops"
    real = getattr(get_backend().__class__, name)

    def spy(self, dt):
        loops = real(self, dt)
        calls.append(loops is not None)
        return loops

    monkeypatch.setattr(get_backend().__class__, name, spy)
    kw, h0 = CASES[case]
    fast = _run(dtype, kw, h0, kind)
    assert calls and all(calls)  # the compiled loops ran
    monkeypatch.setenv("GPUNET_NUMBA", "0")
    ref = _run(dtype, kw, h0, kind)
    tol = 1e-12 if dtype == "float64" else 3e-6
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_loop_gradients_float64_masked(kind, monkeypatch):
    _loops_or_skip("float64", kind)
    monkeypatch.setattr(cpu_threads, "MIN_ROWS", 1)
    monkeypatch.setenv("GPUNET_CPU_THREADS", "2")
    g = 4 if kind == "lstm" else 3

    def f(x, w, u, b, h0, c0):
        if kind == "lstm":
            return ops.rnn.lstm(x, w, u, b, [h0, c0], return_sequences=True, mask=MASK)
        return ops.rnn.gru(x, w, u, b, h0 + c0, reset_after=True, return_sequences=True,
                           mask=MASK)

    rng = np.random.default_rng(8)
    bshape = (g * U,) if kind == "lstm" else (2, g * U)
    shapes = ((N, T, F), (F, g * U), (U, g * U), bshape, (N, U), (N, U))
    check_grad(f, [rng.standard_normal(s) * 0.7 for s in shapes])


def test_no_cblas_gemm_keeps_the_step_path(monkeypatch):
    _loops_or_skip()
    monkeypatch.setitem(_STATE, "cblas", None)
    assert get_backend().lstm_loops(np.dtype("float32")) is None
    assert get_backend().gru_loops(np.dtype("float32")) is None
    assert numba_rnn_loops.lstm_loops(np.dtype("float16"), None) is None
    assert numba_rnn_loops.gru_loops(np.dtype("float16"), None) is None


def test_loops_refuse_arrays_of_another_dtype_or_layout():
    fwd, bwd = _loops_or_skip("float32")
    Z = np.zeros((2, 3, 4 * U), np.float32)
    H, C = np.zeros((3, 3, U), np.float32), np.zeros((3, 3, U), np.float32)
    TC = np.zeros((2, 3, U), np.float32)
    with pytest.raises(ValueError, match="C-contiguous float32; received float64"):
        fwd(Z, H, C, TC, np.zeros((U, 4 * U)), None, slice(0, 3), True)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        fwd(Z, H, C, TC, np.zeros((4 * U, U), np.float32).T, None, slice(0, 3), True)
