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

Keras 3 semantics: gate orders ``i, f, c, o`` (LSTM) and ``z, r, h`` (GRU), masks carry the
state over and repeat the previous output (or emit zeros with ``zero_output_for_mask``),
``go_backwards`` processes reversed time and returns the sequence in that reversed order,
dropout masks are fixed for the whole sequence (one per gate when ``recurrent_dropout`` is
used, as Keras's "implementation 1" does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._rnn_support import (
    _Act,
    _gru_kernels,
    _lstm_kernels,
    _quiet,
    _single_thread_gemm,
)
from gpunet.ops._utils import as_tensor, xp_of

# -- the shared machinery ----------------------------------------------------------------------


def _tmatmul(xp, a, b, out=None):
    """``a.T @ b`` (a weight gradient: a long reduction over batch and time).

    On NumPy it is computed as ``(b.T @ a).T`` when ``b`` has more columns than ``a``:
    OpenBLAS threads the (in, 4 units) output shape badly; measured on 2 cores,
    ``(2560, 128).T @ (2560, 512)`` took 104 ms against 12 ms for the transposed product.
    """
    if xp.__name__ == "numpy" and a.shape[1] < b.shape[1]:
        r = (b.T @ a).T
        if out is None:
            return xp.ascontiguousarray(r)
        out[...] = r
        return out
    if out is None:
        return a.T @ b
    return xp.matmul(a.T, b, out=out)


def _raw(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


class _Recurrent(Function):
    """Shared forward/backward plumbing; subclasses implement the step loops.

    Args:
        units: state size.
        gates: number of gate blocks (1, 4 or 3).
        activation, recurrent_activation: names or callables (see ``_Act``).
        return_sequences: output every step (``(N, T, units)``) or the last (``(N, units)``).
        return_state: also output the final state(s).
        go_backwards: process time in reverse (the sequence output stays reversed).
        mask: boolean ``(N, T)`` array (True = valid step) or None.
        zero_output_for_mask: emit zeros instead of the previous output at masked steps.
        dropout_mask: input keep-mask already scaled by ``1/(1-rate)``: ``(N, F)`` shared by
            all gates, or ``(gates, N, F)`` per gate; None for no dropout.
        recurrent_dropout_mask: ``(gates, N, units)`` per-gate mask on the previous output.
    """

    n_states = 1

    def __init__(self, units: int, gates: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, mask: Any = None,
                 zero_output_for_mask: bool = False, dropout_mask: Any = None,
                 recurrent_dropout_mask: Any = None) -> None:
        self.units, self.gates = units, gates
        self.act = _Act(activation)
        self.ract = _Act(recurrent_activation)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards
        self.mask = _raw(mask)
        self.zero_output = zero_output_for_mask
        self.dp = _raw(dropout_mask)
        self.rdp = _raw(recurrent_dropout_mask)

    # ---- forward ----
    def _prepare(self, x, W, bx):
        """Time-major inputs, mask and the hoisted input projection ``Z = x W + b``."""
        xp = xp_of(x)
        N, T, F = x.shape
        Gu = W.shape[1]
        xs = x.transpose(1, 0, 2)
        if self.go_backwards:
            xs = xs[::-1]
        xs = xp.ascontiguousarray(xs)
        self.xs2 = xs.reshape(T * N, F)
        dp = self.dp
        if dp is None or dp.ndim == 2:
            xin = self.xs2 if dp is None else (xs * dp).reshape(T * N, F)
            Z = xin @ W
            self.xin = xin
        else:
            Z = xp.empty((T * N, Gu), x.dtype)
            u = self.units
            self.xin = None
            for g in range(self.gates):
                xg = (xs * dp[g]).reshape(T * N, F)
                xp.matmul(xg, W[:, g * u:(g + 1) * u], out=Z[:, g * u:(g + 1) * u])
        if bx is not None:
            Z += bx
        m = None
        if self.mask is not None:
            mk = self.mask.astype(bool)
            mk = mk.T
            if self.go_backwards:
                mk = mk[::-1]
            m = xp.ascontiguousarray(mk)[:, :, None]  # (T, N, 1)
        self.m = m
        self.nm = None if m is None else ~m
        self.xshape = (N, T, F)
        return xp, Z.reshape(T, N, Gu)

    def _h_in(self, xp, h, g):
        """The previous output as seen by gate ``g`` (after recurrent dropout)."""
        return h if self.rdp is None else h * self.rdp[g]

    def _outputs(self, xp, H, states):
        T = H.shape[0] - 1
        if self.return_sequences:
            seq = H[1:]
            if self.zero_output and self.m is not None:
                seq = seq * self.m
            out = xp.ascontiguousarray(seq.transpose(1, 0, 2))
        else:
            out = H[T].copy()
        self.final_states = [s.copy() for s in states]
        if self.return_state:
            return (out,) + tuple(self.final_states)
        return out

    # ---- backward ----
    def _seed_grads(self, xp, gys):
        """Splits the incoming gradients into the sequence one and the final-state ones."""
        gys = list(gys)
        gout = gys.pop(0)
        N, T, _ = self.xshape
        u = self.units
        gstates = [None] * self.n_states
        if self.return_state:
            gstates = gys
        gseq = None
        dh = xp.zeros((N, u), self._dtype)
        if self.return_sequences:
            gseq = xp.ascontiguousarray(gout.transpose(1, 0, 2))
            if self.zero_output and self.m is not None:
                gseq = gseq * self.m
        else:
            dh += gout
        if gstates[0] is not None:
            dh += gstates[0]
        rest = []
        for s in gstates[1:]:
            rest.append(xp.zeros((N, u), self._dtype) if s is None else s.copy())
        return gseq, dh, rest

    def _input_grads(self, xp, dZ, W, has_bx):
        """``dx``, ``dW`` and ``d bias_x`` from the pre-activation gradients of all steps."""
        N, T, F = self.xshape
        Gu = W.shape[1]
        u = self.units
        dZ2 = dZ.reshape(T * N, Gu)
        need = self.needs_input_grad
        dx = dW = dbx = None
        dp = self.dp
        if need[1]:
            if dp is None or dp.ndim == 2:
                out = self.grad_buffer(1)
                dW = _tmatmul(xp, self.xin, dZ2, out)
            else:
                dW = xp.empty_like(W)
                xs = self.xs2.reshape(T, N, F)
                for g in range(self.gates):
                    xg = (xs * dp[g]).reshape(T * N, F)
                    sl = slice(g * u, (g + 1) * u)
                    _tmatmul(xp, xg, dZ2[:, sl], dW[:, sl])
        if has_bx:
            dbx = dZ2.sum(axis=0)
        if need[0]:
            if dp is None or dp.ndim == 2:
                dxs = (dZ2 @ W.T).reshape(T, N, F)
                if dp is not None:
                    dxs *= dp
            else:
                dxs = xp.zeros((T, N, F), dZ.dtype)
                for g in range(self.gates):
                    sl = slice(g * u, (g + 1) * u)
                    dxs += (dZ2[:, sl] @ W[:, sl].T).reshape(T, N, F) * dp[g]
            if self.go_backwards:
                dxs = dxs[::-1]
            dx = xp.ascontiguousarray(dxs.transpose(1, 0, 2))
        return dx, dW, dbx

    def _rec_weight_grad(self, xp, Hin, dR, U, index):
        """``d recurrent_kernel = sum_t Hin_t^T dR_t`` (per gate with recurrent dropout)."""
        T, N, u = Hin.shape
        Gu = dR.shape[-1]
        H2 = Hin.reshape(T * N, u)
        dR2 = dR.reshape(T * N, Gu)
        if self.rdp is None:
            out = self.grad_buffer(index)
            return _tmatmul(xp, H2, dR2, out)
        dU = xp.empty_like(U)
        for g in range(Gu // self.units):
            sl = slice(g * self.units, (g + 1) * self.units)
            Hg = (Hin * self.rdp[g]).reshape(T * N, u)
            _tmatmul(xp, Hg, dR2[:, sl], dU[:, sl])
        return dU

    def _rec_back(self, xp, dr, U, out):
        """``out = sum_g (dr_g @ U_g^T) * rdp_g`` (the gradient reaching the previous h)."""
        if self.rdp is None:
            return xp.matmul(dr, U.T, out=out)
        u = self.units
        out[...] = 0
        for g in range(dr.shape[1] // u):
            sl = slice(g * u, (g + 1) * u)
            out += (dr[:, sl] @ U[:, sl].T) * self.rdp[g]
        return out

    def _rec_fwd(self, xp, h, U, out):
        """``out = h @ U`` with per-gate recurrent dropout when there is one."""
        if self.rdp is None:
            return xp.matmul(h, U, out=out)
        u = self.units
        for g in range(U.shape[1] // u):
            sl = slice(g * u, (g + 1) * u)
            xp.matmul(h * self.rdp[g], U[:, sl], out=out[:, sl])
        return out


class SimpleRNNFunction(_Recurrent):
    """``h' = act(x W + b + h U)`` over a whole sequence. Inputs ``(x, W, U, b, h0)``."""

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, 1, activation, "linear", **kwargs)

    def forward(self, x, W, U, b=None, h0=None):
        self._dtype = x.dtype
        xp, Z = self._prepare(x, W, b)
        T, N, u = Z.shape
        H = xp.empty((T + 1, N, u), x.dtype)
        if h0 is None:
            H[0] = 0
        else:
            H[0] = h0
        tmp = xp.empty((N, u), x.dtype)
        act, m, nm = self.act, self.m, self.nm
        with _single_thread_gemm(xp):
            for t in range(T):
                z = Z[t]
                self._rec_fwd(xp, H[t], U, tmp)
                z += tmp
                if act.needs_z:
                    act.fwd(xp, z, out=H[t + 1])
                else:
                    act.fwd(xp, z)
                    H[t + 1] = z
                if m is not None:
                    xp.copyto(H[t + 1], H[t], where=nm[t])
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
        carry = xp.empty_like(dh) if m is not None else None
        with _single_thread_gemm(xp):
            for t in range(T - 1, -1, -1):
                if gseq is not None:
                    dh += gseq[t]
                if m is not None:
                    xp.multiply(dh, nm[t], out=carry)
                    dh *= m[t]
                dz = dZ[t]
                if act.needs_z:
                    act.grad(xp, dh, None, self.Zpre[t], out=dz)
                else:
                    act.grad(xp, dh, self.Y[t], out=dz)
                self._rec_back(xp, dz, U, dh)
                if m is not None:
                    dh += carry
        need = self.needs_input_grad
        dx, dW, db = self._input_grads(xp, dZ, self.W, self.has_b)
        dU = self._rec_weight_grad(xp, H[:T], dZ, U, 2) if need[2] else None
        dh0 = dh if len(need) > 4 and need[4] else None
        return dx, dW, dU, db, dh0


class LSTMFunction(_Recurrent):
    """Keras LSTM (gates ``i, f, c, o``) over a whole sequence.

    Inputs ``(x, W, U, b, h0, c0)``; outputs the sequence or last output, then (with
    ``return_state``) the final ``h`` and ``c``.

    With the default activations (tanh, sigmoid) the gate columns are reordered internally to
    ``i, f, o, c`` and scaled by -1 (``i, f, o``) and -2 (``c``), so one ``exp``, one add and
    one reciprocal give every gate of a step: ``sigmoid(z) = 1 / (1 + exp(-z))`` and
    ``tanh(z) = 2 sigmoid(2 z) - 1``. Gradients are computed in that order and permuted back.
    """

    n_states = 2

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", **kwargs: Any) -> None:
        super().__init__(units, 4, activation, recurrent_activation, **kwargs)

    def forward(self, x, W, U, b=None, h0=None, c0=None):
        self._dtype = x.dtype
        xp = xp_of(x)
        u = self.units
        act, ract = self.act, self.ract
        default = act.name == "tanh" and ract.name == "sigmoid"
        self.cuda = default and xp.__name__ != "numpy"  # one fused kernel per step
        fast = self.fast = default and not self.cuda  # NumPy: the reordered exp form
        self.W, self.U = W, U
        if fast:  # columns i, f, o, c; gate-wise dropout masks follow the same order
            perm = xp.concatenate([xp.arange(0, 2 * u), xp.arange(3 * u, 4 * u),
                                   xp.arange(2 * u, 3 * u)])
            self.perm = perm
            scale = xp.full((4 * u,), -1.0, x.dtype)
            scale[3 * u:] = -2.0
            Wp, Up = W[:, perm], U[:, perm]
            self.W, self.U = Wp, Up
            W, U = Wp * scale, Up * scale
            b = None if b is None else b[perm] * scale
            order = [0, 1, 3, 2]
            if self.dp is not None and self.dp.ndim == 3:
                self.dp = self.dp[order]
            if self.rdp is not None:
                self.rdp = self.rdp[order]
            gi, gf, go, gg = 0, 1, 2, 3
        else:
            gi, gf, gg, go = 0, 1, 2, 3
        self.slots = (gi, gf, gg, go)
        xp, Z = self._prepare(x, W, b)
        T, N, G4 = Z.shape
        dt = x.dtype
        H = xp.empty((T + 1, N, u), dt)
        C = xp.empty((T + 1, N, u), dt)
        H[0] = 0 if h0 is None else h0
        C[0] = 0 if c0 is None else c0
        TC = xp.empty((T, N, u), dt)  # act(c_t)
        tmp = xp.empty((N, G4), dt)
        tmp2 = xp.empty((N, u), dt)
        m, nm = self.m, self.nm
        generic = act.needs_z or ract.needs_z
        Zpre = xp.empty_like(Z) if generic else None
        si, sf, sg, so = (slice(k * u, (k + 1) * u) for k in (gi, gf, gg, go))
        if self.cuda:
            kfwd, _ = _lstm_kernels(x)
            has_m = int(m is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T):
                self._rec_fwd(xp, H[t], U, tmp)
                kfwd(tmp, C[t], H[t], mk[t], u, has_m,
                     Z[t], C[t + 1], TC[t], H[t + 1], size=N * u)
        with _quiet(xp), _single_thread_gemm(xp):
            for t in range(T if self.cuda else 0, T):
                z = Z[t]
                self._rec_fwd(xp, H[t], U, tmp)
                z += tmp
                if fast:
                    xp.exp(z, out=z)
                    z += 1
                    xp.reciprocal(z, out=z)
                    g = z[:, sg]
                    g *= 2
                    g -= 1
                else:
                    if generic:
                        Zpre[t] = z
                    ract.fwd(xp, z[:, :2 * u])
                    act.fwd(xp, z[:, sg])
                    ract.fwd(xp, z[:, so])
                i, f, g, o = z[:, si], z[:, sf], z[:, sg], z[:, so]
                cn = C[t + 1]
                xp.multiply(f, C[t], out=cn)
                xp.multiply(i, g, out=tmp2)
                cn += tmp2
                act.fwd(xp, cn, out=TC[t])
                xp.multiply(o, TC[t], out=H[t + 1])
                if m is not None:
                    xp.copyto(H[t + 1], H[t], where=nm[t])
                    xp.copyto(cn, C[t], where=nm[t])
        self.Z, self.H, self.C, self.TC, self.Zpre = Z, H, C, TC, Zpre
        self.has_b = b is not None
        return self._outputs(xp, H, [H[T], C[T]])

    def backward(self, *gys):
        xp = xp_of(gys[0])
        gseq, dh, (dc,) = self._seed_grads(xp, gys)
        Z, H, C, TC, U = self.Z, self.H, self.C, self.TC, self.U
        m, nm = self.m, self.nm
        act, ract = self.act, self.ract
        T = Z.shape[0]
        N, u = dh.shape
        si, sf, sg, so = (slice(k * u, (k + 1) * u) for k in self.slots)
        dZ = xp.empty_like(Z)
        dt = dh.dtype
        dtc = xp.empty((N, u), dt)
        carry_h = xp.empty((N, u), dt) if m is not None else None
        carry_c = xp.empty((N, u), dt) if m is not None else None
        Zpre = self.Zpre
        generic_c = act.needs_z
        if self.cuda:
            _, kbwd = _lstm_kernels(dh)
            has_m, has_gs = int(m is not None), int(gseq is not None)
            carry = xp.empty((N, u), dt)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T - 1, -1, -1):
                kbwd(Z[t], C[t], TC[t], gseq[t] if has_gs else dh, mk[t], u,
                     has_gs, has_m, dh, dZ[t], dc, carry, size=N * u)
                self._rec_back(xp, dZ[t], U, dh)
                if has_m:
                    dh += carry
        with _single_thread_gemm(xp):
            for t in range(-1 if self.cuda else T - 1, -1, -1):
                if gseq is not None:
                    dh += gseq[t]
                if m is not None:
                    xp.multiply(dh, nm[t], out=carry_h)
                    xp.multiply(dc, nm[t], out=carry_c)
                    dh *= m[t]
                    dc *= m[t]
                z, dz = Z[t], dZ[t]
                i, f, g, o = z[:, si], z[:, sf], z[:, sg], z[:, so]
                tc = TC[t]
                # h = o * act(c):  d o = dh * act(c);  d c += act'(c) * dh * o
                xp.multiply(dh, tc, out=dz[:, so])
                xp.multiply(dh, o, out=dtc)
                act.grad(xp, dtc, tc, C[t + 1] if generic_c else None)
                dc += dtc
                # c = f * c_prev + i * g
                xp.multiply(dc, g, out=dz[:, si])
                xp.multiply(dc, i, out=dz[:, sg])
                xp.multiply(dc, C[t], out=dz[:, sf])
                dc *= f
                if self.fast:  # sigmoid gates i, f, o are one block
                    ract.grad(xp, dz[:, :3 * u], z[:, :3 * u])
                    act.grad(xp, dz[:, sg], g)
                else:
                    zp = Zpre[t] if Zpre is not None else None
                    u2 = 2 * u
                    ract.grad(xp, dz[:, :u2], z[:, :u2], zp[:, :u2] if zp is not None else None)
                    act.grad(xp, dz[:, sg], g, zp[:, sg] if zp is not None else None)
                    ract.grad(xp, dz[:, so], o, zp[:, so] if zp is not None else None)
                self._rec_back(xp, dz, U, dh)
                if m is not None:
                    dh += carry_h
                    dc += carry_c
        need = self.needs_input_grad
        if self.fast:
            return self._backward_permuted(xp, dZ, dh, dc)
        dx, dW, db = self._input_grads(xp, dZ, self.W, self.has_b)
        dU = self._rec_weight_grad(xp, H[:T], dZ, U, 2) if need[2] else None
        dh0 = dh if len(need) > 4 and need[4] else None
        dc0 = dc if len(need) > 5 and need[5] else None
        return dx, dW, dU, db, dh0, dc0

    def _backward_permuted(self, xp, dZ, dh, dc):
        """Weight gradients from the reordered ``dZ``, written back in Keras column order."""
        need = self.needs_input_grad
        T = dZ.shape[0]
        perm = self.perm
        grad_buffer = self.grad_buffer
        self.grad_buffer = lambda index: None  # the permuted results are scattered below
        dx, dWp, dbp = self._input_grads(xp, dZ, self.W, self.has_b)
        dUp = self._rec_weight_grad(xp, self.H[:T], dZ, self.U, 2) if need[2] else None
        out = []
        for k, g in ((1, dWp), (2, dUp), (3, dbp)):
            if g is None:
                out.append(None)
                continue
            buf = grad_buffer(k)
            if buf is None:
                buf = xp.empty_like(g)
            buf[..., perm] = g
            out.append(buf)
        dh0 = dh if len(need) > 4 and need[4] else None
        dc0 = dc if len(need) > 5 and need[5] else None
        return (dx, *out, dh0, dc0)


class GRUFunction(_Recurrent):
    """Keras GRU (gates ``z, r, h``; ``h' = z h + (1 - z) h~``) over a whole sequence.

    Inputs ``(x, W, U, b, h0)``. With ``reset_after=True`` ``b`` has shape ``(2, 3u)``
    (input bias, recurrent bias) and ``h~ = act(x W_h + b_h + r (h U_h + b^r_h))``; with
    ``reset_after=False`` ``b`` is ``(3u,)`` and ``h~ = act(x W_h + b_h + (r h) U_h)``.
    """

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", reset_after: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, 3, activation, recurrent_activation, **kwargs)
        self.reset_after = reset_after

    def forward(self, x, W, U, b=None, h0=None):
        self._dtype = x.dtype
        ra = self.reset_after
        bx = bh = None
        if b is not None:
            bx, bh = (b[0], b[1]) if ra else (b, None)
        xp, Z = self._prepare(x, W, bx)
        T, N, G3 = Z.shape
        u = self.units
        u2 = 2 * u
        dt = x.dtype
        H = xp.empty((T + 1, N, u), dt)
        H[0] = 0 if h0 is None else h0
        RH = xp.empty((T, N, u), dt)  # reset_after: h U_h + b^r_h;  else: r * h
        rec = xp.empty((N, G3), dt)
        tmp = xp.empty((N, u), dt)
        act, ract, m, nm = self.act, self.ract, self.m, self.nm
        generic = act.needs_z or ract.needs_z
        Zpre = xp.empty_like(Z) if generic else None
        self.cuda = (ra and xp.__name__ != "numpy" and act.name == "tanh"
                     and ract.name == "sigmoid")
        if self.cuda:  # one fused kernel per step
            kfwd, _ = _gru_kernels(x)
            has_m, has_b = int(m is not None), int(bh is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T):
                self._rec_fwd(xp, H[t], U, rec)
                kfwd(rec, bh if has_b else rec, H[t], mk[t], u, has_b, has_m, Z[t], RH[t],
                     H[t + 1], size=N * u)
        with _single_thread_gemm(xp):
            for t in range(T if self.cuda else 0, T):
                z, h = Z[t], H[t]
                if ra:
                    self._rec_fwd(xp, h, U, rec)
                    if bh is not None:
                        rec += bh
                    z[:, :u2] += rec[:, :u2]
                    RH[t] = rec[:, u2:]
                else:
                    if self.rdp is None:
                        xp.matmul(h, U[:, :u2], out=rec[:, :u2])
                    else:
                        for g in range(2):
                            sl = slice(g * u, (g + 1) * u)
                            xp.matmul(h * self.rdp[g], U[:, sl], out=rec[:, sl])
                    z[:, :u2] += rec[:, :u2]
                if generic:
                    Zpre[t, :, :u2] = z[:, :u2]
                ract.fwd(xp, z[:, :u2])
                zg, r, hh = z[:, :u], z[:, u:u2], z[:, u2:]
                if ra:
                    xp.multiply(r, RH[t], out=tmp)
                else:
                    xp.multiply(r, self._h_in(xp, h, 2), out=RH[t])
                    xp.matmul(RH[t], U[:, u2:], out=tmp)
                hh += tmp
                if generic:
                    Zpre[t, :, u2:] = hh
                act.fwd(xp, hh)
                hn = H[t + 1]  # h' = hh + z * (h - hh)
                xp.subtract(h, hh, out=hn)
                hn *= zg
                hn += hh
                if m is not None:
                    xp.copyto(hn, h, where=nm[t])
        self.Z, self.H, self.RH, self.Zpre = Z, H, RH, Zpre
        self.W, self.U = W, U
        self.has_b = b is not None
        return self._outputs(xp, H, [H[T]])

    def backward(self, *gys):
        xp = xp_of(gys[0])
        gseq, dh, _ = self._seed_grads(xp, gys)
        Z, H, RH, U = self.Z, self.H, self.RH, self.U
        m, nm, ra = self.m, self.nm, self.reset_after
        act, ract, Zpre = self.act, self.ract, self.Zpre
        T = Z.shape[0]
        N, u = dh.shape
        u2 = 2 * u
        dt = dh.dtype
        dZ = xp.empty_like(Z)
        dR = xp.empty_like(Z) if ra else None  # gradient of h U + b^r (reset_after)
        tmp = xp.empty((N, u), dt)
        drh = xp.empty((N, u), dt)
        dhprev = xp.empty((N, u), dt)
        carry = xp.empty((N, u), dt) if m is not None else None
        Uh_T = None if ra else xp.ascontiguousarray(U[:, u2:].T)
        if self.cuda:
            _, kbwd = _gru_kernels(dh)
            has_m, has_gs = int(m is not None), int(gseq is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T - 1, -1, -1):
                kbwd(Z[t], RH[t], H[t], gseq[t] if has_gs else dh, mk[t], u, has_gs, has_m, dh,
                     dZ[t], dR[t], dhprev, size=N * u)
                self._rec_back(xp, dR[t], U, dh)
                dh += dhprev
        with _single_thread_gemm(xp):
            for t in range(-1 if self.cuda else T - 1, -1, -1):
                if gseq is not None:
                    dh += gseq[t]
                if m is not None:
                    xp.multiply(dh, nm[t], out=carry)
                    dh *= m[t]
                z, dz, h = Z[t], dZ[t], H[t]
                zg, r, hh = z[:, :u], z[:, u:u2], z[:, u2:]
                # h' = z h + (1 - z) hh
                xp.subtract(h, hh, out=tmp)
                xp.multiply(dh, tmp, out=dz[:, :u])  # d z (post-activation)
                xp.multiply(dh, zg, out=dhprev)  # direct path to h
                xp.subtract(dh, dhprev, out=dz[:, u2:])  # d hh = dh (1 - z)
                zp = None if Zpre is None else Zpre[t]
                act.grad(xp, dz[:, u2:], hh, None if zp is None else zp[:, u2:])
                dzh = dz[:, u2:]
                if ra:
                    xp.multiply(dzh, RH[t], out=dz[:, u:u2])  # d r
                else:
                    xp.matmul(dzh, Uh_T, out=drh)  # d (r * h_in)
                    xp.multiply(drh, self._h_in(xp, h, 2), out=dz[:, u:u2])
                ract.grad(xp, dz[:, :u2], z[:, :u2], None if zp is None else zp[:, :u2])
                if ra:
                    dr = dR[t]
                    dr[:, :u2] = dz[:, :u2]
                    xp.multiply(dzh, r, out=dr[:, u2:])
                    self._rec_back(xp, dr, U, dh)
                else:
                    self._rec_back(xp, dz[:, :u2], U[:, :u2], dh)
                    xp.multiply(drh, r, out=tmp)
                    if self.rdp is not None:
                        tmp *= self.rdp[2]
                    dh += tmp
                dh += dhprev
                if m is not None:
                    dh += carry
        need = self.needs_input_grad
        dx, dW, dbx = self._input_grads(xp, dZ, self.W, self.has_b and True)
        dU = db = None
        if need[2]:
            if ra:
                dU = self._rec_weight_grad(xp, H[:T], dR, U, 2)
            else:
                dU = xp.empty_like(U)
                Hin = H[:T]
                dU[:, :u2] = self._rec_weight_grad_cols(xp, Hin, dZ[:, :, :u2], 0)
                _tmatmul(xp, RH.reshape(-1, u), dZ[:, :, u2:].reshape(-1, u), dU[:, u2:])
        if self.has_b and len(need) > 3 and need[3]:
            if ra:
                db = xp.stack([dbx, dR.reshape(-1, dR.shape[-1]).sum(axis=0)])
            else:
                db = dbx
        dh0 = dh if len(need) > 4 and need[4] else None
        return dx, dW, dU, db, dh0

    def _rec_weight_grad_cols(self, xp, Hin, dR, g0):
        T, N, u = Hin.shape
        cols = dR.shape[-1]
        dR2 = dR.reshape(T * N, cols)
        if self.rdp is None:
            return _tmatmul(xp, Hin.reshape(T * N, u), dR2)
        out = xp.empty((u, cols), Hin.dtype)
        for k in range(cols // u):
            sl = slice(k * u, (k + 1) * u)
            _tmatmul(xp, (Hin * self.rdp[g0 + k]).reshape(T * N, u), dR2[:, sl], out[:, sl])
        return out


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
