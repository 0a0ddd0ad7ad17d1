"""Whole-sequence recurrent ops: ``simple_rnn``, ``lstm`` and ``gru``, one graph node per call.

Each op runs the time loop over raw backend arrays (NumPy or CuPy) with hand-written
back-propagation through time:

* the input projection ``x @ kernel + bias`` of every time step is one GEMM before the loop;
* each step does one GEMM with the recurrent kernel (GRU with ``reset_after=False`` needs a
  second, smaller one for the candidate, as the formula requires), then in-place element-wise
  work on preallocated buffers;
* backward runs the loop in reverse, storing the pre-activation gradients of all steps, and
  then forms ``d kernel``, ``d recurrent_kernel``, ``d bias`` and ``d inputs`` with one GEMM
  each over all time steps.

On the CPU (``Backend.row_blocks`` / ``run_blocks``) the time loop runs on blocks of batch
rows side by side, one thread each, and the GEMMs before and after it on blocks of the
``T * N`` rows: the threads meet once per phase, not once per step. With Numba, the default
LSTM and GRU run each block's whole loop as one compiled call that releases the GIL
(``Backend.lstm_loops`` / ``gru_loops``); the per-step paths remain for recurrent dropout,
custom activations, other BLAS builds, and as the tests' reference.

Keras 3 semantics: gate orders ``i, f, c, o`` (LSTM) and ``z, r, h`` (GRU), masks carry the
state over and repeat the previous output (or emit zeros with ``zero_output_for_mask``),
``go_backwards`` processes reversed time and returns the sequence in that reversed order,
dropout masks are fixed for the whole sequence (one per gate when ``recurrent_dropout`` is
used, as Keras's "implementation 1" does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpunet.backend import backend_of
from gpunet.ops._rnn_base import _Recurrent
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.rnn_gru import GRUFunction
from gpunet.ops.rnn_lstm import LSTMFunction


class SimpleRNNFunction(_Recurrent):
    """``h' = act(x W + b + h U)`` over a whole sequence. Inputs ``(x, W, U, b, h0)``."""

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, 1, activation, "linear", **kwargs)

    def forward(self, x, W, U, b=None, h0=None):
        self._dtype = x.dtype
        bk = backend_of(x)
        split = self._split_ok(bk)  # x W in one GEMM per block of rows
        xp, Z = self._prepare(x, W, b, defer=split)
        T, N, u = Z.shape
        H = xp.empty((T + 1, N, u), x.dtype)
        if h0 is None:
            H[0] = 0
        else:
            H[0] = h0
        act, m, nm = self.act, self.m, self.nm

        def loop(r):  # the time loop over the batch rows r
            tmp = xp.empty((r.stop - r.start, u), x.dtype)
            for t in range(T):
                z, hn = Z[t, r], H[t + 1, r]
                self._rec_fwd(xp, H[t, r], U, tmp, r)
                z += tmp
                if act.needs_z:
                    act.fwd(xp, z, out=hn)
                else:
                    act.fwd(xp, z)
                    hn[...] = z
                if m is not None:
                    xp.copyto(hn, H[t, r], where=nm[t, r])

        with bk.single_thread_blas():
            bk.run_blocks(loop, self._blocks(bk, N))
        if act.needs_z:  # keep the pre-activations for the generic derivative
            self.Zpre = Z
        self.H, self.Y = H, (None if act.needs_z else Z)
        self.W, self.U = W, U
        self.has_b = b is not None
        return self._outputs(xp, H, [H[T]])

    def backward(self, *gys):
        xp = xp_of(gys[0])
        gseq, dh, _ = self._seed_grads(xp, gys)
        H, U, m, nm = self.H, self.U, self.m, self.nm
        T = H.shape[0] - 1
        N, u = dh.shape
        dZ = xp.empty((T, N, u), dh.dtype)
        act = self.act
        bk = backend_of(gys[0])
        UT = xp.ascontiguousarray(U.T) if self.rdp is None else None

        def loop(r):
            dhr = dh[r]
            carry = xp.empty_like(dhr) if m is not None else None
            for t in range(T - 1, -1, -1):
                if gseq is not None:
                    dhr += gseq[t, r]
                if m is not None:
                    xp.multiply(dhr, nm[t, r], out=carry)
                    dhr *= m[t, r]
                dz = dZ[t, r]
                if act.needs_z:
                    act.grad(xp, dhr, None, self.Zpre[t, r], out=dz)
                else:
                    act.grad(xp, dhr, self.Y[t, r], out=dz)
                self._rec_back(xp, dz, U, dhr, r, UT)
                if m is not None:
                    dhr += carry

        with bk.single_thread_blas():
            bk.run_blocks(loop, self._blocks(bk, N))
        need = self.needs_input_grad
        if self.split:  # the weight gradients in one GEMM per block of the T * N rows
            dx, parts = self._split_grads(xp, bk, dZ, H[:T], self.W)
            dW, dU = self._sum_blocks(xp, parts, 0, 1), self._sum_blocks(xp, parts, 1, 2)
            dh0 = dh if len(need) > 4 and need[4] else None
            return (dx, dW, dU, self._sum_blocks(xp, parts, 2),
                    dh0)
        dx, dW, db = self._input_grads(xp, dZ, self.W, self.has_b)
        dU = self._rec_weight_grad(xp, H[:T], dZ, U, 2) if need[2] else None
        dh0 = dh if len(need) > 4 and need[4] else None
        return dx, dW, dU, db, dh0


# -- functional API ----------------------------------------------------------------------------


def _call(fn: _Recurrent, x, kernel, recurrent_kernel, bias, states):
    args = [as_tensor(x), kernel, recurrent_kernel, bias]
    args += list(states)
    out = fn(*args)
    return out


def simple_rnn(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None,
               initial_state: Any = None, *, activation: str | Callable = "tanh",
               **kwargs: Any) -> Any:
    """Runs a Keras SimpleRNN over ``x`` of shape ``(N, T, F)`` as one graph node.

    Keyword arguments are those of ``_Recurrent`` (``return_sequences``, ``mask``, ...).
    Returns the output Tensor, or ``(output, h)`` with ``return_state=True``.
    """
    fn = SimpleRNNFunction(recurrent_kernel.shape[0], activation, **kwargs)
    return _call(fn, x, kernel, recurrent_kernel, bias, [initial_state])


def lstm(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None,
         initial_state: Any = None, *, activation: str | Callable = "tanh",
         recurrent_activation: str | Callable = "sigmoid", **kwargs: Any) -> Any:
    """Runs a Keras LSTM over ``x`` of shape ``(N, T, F)`` as one graph node.

    ``initial_state`` is None or ``[h0, c0]``. Returns the output Tensor, or
    ``(output, h, c)`` with ``return_state=True``.
    """
    fn = LSTMFunction(recurrent_kernel.shape[0], activation, recurrent_activation, **kwargs)
    states = [None, None] if initial_state is None else list(initial_state)
    return _call(fn, x, kernel, recurrent_kernel, bias, states)


def gru(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None,
        initial_state: Any = None, *, activation: str | Callable = "tanh",
        recurrent_activation: str | Callable = "sigmoid", reset_after: bool = True,
        **kwargs: Any) -> Any:
    """Runs a Keras GRU over ``x`` of shape ``(N, T, F)`` as one graph node.

    Returns the output Tensor, or ``(output, h)`` with ``return_state=True``.
    """
    fn = GRUFunction(recurrent_kernel.shape[0], activation, recurrent_activation, reset_after,
                     **kwargs)
    return _call(fn, x, kernel, recurrent_kernel, bias, [initial_state])
