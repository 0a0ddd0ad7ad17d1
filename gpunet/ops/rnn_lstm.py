"""``LSTMFunction``: the whole-sequence LSTM (Keras 3 gate order i, f, c, o) with BPTT."""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of
from gpunet.ops._rnn_base import _Recurrent
from gpunet.ops._utils import xp_of


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
        bk = backend_of(x)
        self.kernels = bk.lstm_step_kernels() if default else None
        self.cuda = self.kernels is not None  # one fused kernel per step
        fast = self.fast = default and not self.cuda  # NumPy: the reordered exp form
        self.W, self.U = W, U
        if fast:  # columns i, f, o, c; gate-wise dropout masks follow the same order
            scale = xp.full((4 * u,), -1.0, x.dtype)
            scale[3 * u:] = -2.0
            Wp, Up = _swap_co(xp, W, u), _swap_co(xp, U, u)
            self.W, self.U = Wp, Up
            W, U = Wp * scale, Up * scale
            b = None if b is None else _swap_co(xp, b, u) * scale
            order = [0, 1, 3, 2]
            if self.dp is not None and self.dp.ndim == 3:
                self.dp = self.dp[order]
            if self.rdp is not None:
                self.rdp = self.rdp[order]
            gi, gf, go, gg = 0, 1, 2, 3
        else:
            gi, gf, gg, go = 0, 1, 2, 3
        self.slots = (gi, gf, gg, go)
        split = not self.cuda and self._split_ok(bk)  # x W in one GEMM per block of rows
        xp, Z = self._prepare(x, W, b, defer=split)
        T, N, G4 = Z.shape
        dt = x.dtype
        H = xp.empty((T + 1, N, u), dt)
        C = xp.empty((T + 1, N, u), dt)
        H[0] = 0 if h0 is None else h0
        C[0] = 0 if c0 is None else c0
        TC = xp.empty((T, N, u), dt)  # act(c_t)
        m, nm = self.m, self.nm
        generic = act.needs_z or ract.needs_z
        Zpre = xp.empty_like(Z) if generic else None
        si, sf, sg, so = (slice(k * u, (k + 1) * u) for k in (gi, gf, gg, go))
        if self.cuda:
            kfwd, _ = self.kernels
            tmp = xp.empty((N, G4), dt)
            has_m = int(m is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T):
                self._rec_fwd(xp, H[t], U, tmp)
                kfwd(tmp, C[t], H[t], mk[t], u, has_m,
                     Z[t], C[t + 1], TC[t], H[t + 1], size=N * u)
        cell = bk.lstm_cell_step(x.dtype) if fast else None  # gates and new cell in one pass
        # the whole loop of a block of rows in one call (no mask, no recurrent dropout)
        loops = self.loops = (bk.lstm_loops(x.dtype) if fast and self.rdp is None
                              and U.dtype == Z.dtype == x.dtype else None)
        keep = self.keep = None if m is None else m[:, :, 0]

        def loop(r):  # the time loop over the batch rows r
            tmp = xp.empty((r.stop - r.start, G4), dt)
            tmp2 = xp.empty((r.stop - r.start, u), dt)
            with bk.ignore_overflow():
                for t in range(T):
                    z, cp, cn, tc, hn = Z[t, r], C[t, r], C[t + 1, r], TC[t, r], H[t + 1, r]
                    if t or h0 is not None:  # h0 = 0 (no initial state): h0 U is zero
                        self._rec_fwd(xp, H[t, r], U, tmp, r)
                        z += tmp
                    if cell is not None:
                        xp.exp(z, out=z)
                        cell(z, cp, cn)
                        act.fwd(xp, cn, out=tc)
                        xp.multiply(z[:, so], tc, out=hn)
                    else:
                        if fast:
                            xp.exp(z, out=z)
                            z += 1
                            xp.reciprocal(z, out=z)
                            g = z[:, sg]
                            g *= 2
                            g -= 1
                        else:
                            if generic:
                                Zpre[t, r] = z
                            ract.fwd(xp, z[:, :2 * u])
                            act.fwd(xp, z[:, sg])
                            ract.fwd(xp, z[:, so])
                        xp.multiply(z[:, sf], cp, out=cn)
                        xp.multiply(z[:, si], z[:, sg], out=tmp2)
                        cn += tmp2
                        act.fwd(xp, cn, out=tc)
                        xp.multiply(z[:, so], tc, out=hn)
                    if m is not None:
                        xp.copyto(hn, H[t, r], where=nm[t, r])
                        xp.copyto(cn, cp, where=nm[t, r])

        if loops is not None:
            U = xp.ascontiguousarray(U)
            with bk.single_thread_blas():
                bk.run_blocks(lambda r: loops[0](Z, H, C, TC, U, keep, r, h0 is None),
                              self._blocks(bk, N))
        elif not self.cuda:
            with bk.single_thread_blas():
                bk.run_blocks(loop, self._blocks(bk, N))
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
        bk = backend_of(gys[0])
        Zpre = self.Zpre
        generic_c = act.needs_z
        if self.cuda:
            _, kbwd = self.kernels
            has_m, has_gs = int(m is not None), int(gseq is not None)
            carry = xp.empty((N, u), dt)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T - 1, -1, -1):
                kbwd(Z[t], C[t], TC[t], gseq[t] if has_gs else dh, mk[t], u,
                     has_gs, has_m, dh, dZ[t], dc, carry, size=N * u)
                self._rec_back(xp, dZ[t], U, dh)
                if has_m:
                    dh += carry
        fused = bk.lstm_bptt_step(dt) if self.fast else None
        UT = xp.ascontiguousarray(U.T) if self.rdp is None else None
        need = self.needs_input_grad
        # the gradient reaching h0 (the product of the first step) only where h0 takes one
        first = 0 if len(need) > 4 and need[4] else 1

        def loop_fused(r):  # one pass per step for the element-wise work (Numba)
            dhr, dcr = dh[r], dc[r]
            carry = xp.empty_like(dhr) if m is not None else None
            for t in range(T - 1, -1, -1):
                fused(Z[t, r], C[t, r], TC[t, r], None if gseq is None else gseq[t, r],
                      None if m is None else m[t, r, 0], dhr, dZ[t, r], dcr, carry)
                if t >= first:
                    self._rec_back(xp, dZ[t, r], U, dhr, r, UT)
                    if m is not None:
                        dhr += carry

        def loop(r):
            dhr, dcr = dh[r], dc[r]
            dtc = xp.empty_like(dhr)
            carry_h = xp.empty_like(dhr) if m is not None else None
            carry_c = xp.empty_like(dhr) if m is not None else None
            for t in range(T - 1, -1, -1):
                if gseq is not None:
                    dhr += gseq[t, r]
                if m is not None:
                    xp.multiply(dhr, nm[t, r], out=carry_h)
                    xp.multiply(dcr, nm[t, r], out=carry_c)
                    dhr *= m[t, r]
                    dcr *= m[t, r]
                z, dz = Z[t, r], dZ[t, r]
                i, f, g, o = z[:, si], z[:, sf], z[:, sg], z[:, so]
                tc = TC[t, r]
                # h = o * act(c):  d o = dh * act(c);  d c += act'(c) * dh * o
                xp.multiply(dhr, tc, out=dz[:, so])
                xp.multiply(dhr, o, out=dtc)
                act.grad(xp, dtc, tc, C[t + 1, r] if generic_c else None)
                dcr += dtc
                # c = f * c_prev + i * g
                xp.multiply(dcr, g, out=dz[:, si])
                xp.multiply(dcr, i, out=dz[:, sg])
                xp.multiply(dcr, C[t, r], out=dz[:, sf])
                dcr *= f
                if self.fast:  # sigmoid gates i, f, o are one block
                    ract.grad(xp, dz[:, :3 * u], z[:, :3 * u])
                    act.grad(xp, dz[:, sg], g)
                else:
                    zp = Zpre[t, r] if Zpre is not None else None
                    u2 = 2 * u
                    ract.grad(xp, dz[:, :u2], z[:, :u2], zp[:, :u2] if zp is not None else None)
                    act.grad(xp, dz[:, sg], g, zp[:, sg] if zp is not None else None)
                    ract.grad(xp, dz[:, so], o, zp[:, so] if zp is not None else None)
                if t >= first:
                    self._rec_back(xp, dz, U, dhr, r, UT)
                    if m is not None:
                        dhr += carry_h
                if m is not None:
                    dcr += carry_c

        loops = self.loops
        if loops is not None:
            gs = gseq if gseq is None else xp.ascontiguousarray(gseq)
            with bk.single_thread_blas():
                bk.run_blocks(lambda r: loops[1](Z, C, TC, gs, self.keep, UT, dh, dc, dZ, r,
                                                 first),
                              self._blocks(bk, N))
        elif not self.cuda:
            with bk.single_thread_blas():
                bk.run_blocks(loop if fused is None else loop_fused, self._blocks(bk, N))
        if self.split:  # the weight gradients in one GEMM per block of the T * N rows
            dx, parts = self._split_grads(xp, bk, dZ, H[:T], self.W)
            if self.fast:
                sums = [self._sum_blocks(xp, parts, k) for k in range(3)]
                return self._scatter_permuted(xp, self.grad_buffer, dx, *sums, dh, dc)
            dW, dU = self._sum_blocks(xp, parts, 0, 1), self._sum_blocks(xp, parts, 1, 2)
            dh0 = dh if len(need) > 4 and need[4] else None
            dc0 = dc if len(need) > 5 and need[5] else None
            return dx, dW, dU, self._sum_blocks(xp, parts, 2), dh0, dc0
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
        grad_buffer = self.grad_buffer
        self.grad_buffer = lambda index: None  # the permuted results are scattered below
        dx, dWp, dbp = self._input_grads(xp, dZ, self.W, self.has_b)
        dUp = self._rec_weight_grad(xp, self.H[:T], dZ, self.U, 2) if need[2] else None
        return self._scatter_permuted(xp, grad_buffer, dx, dWp, dUp, dbp, dh, dc)

    def _scatter_permuted(self, xp, grad_buffer, dx, dWp, dUp, dbp, dh, dc):
        """The gradients in Keras column order from those of the reordered columns."""
        need = self.needs_input_grad
        u = self.units
        out = []
        for k, g in ((1, dWp), (2, dUp), (3, dbp)):
            if g is None:
                out.append(None)
                continue
            out.append(_swap_co(xp, g, u, grad_buffer(k)))
        dh0 = dh if len(need) > 4 and need[4] else None
        dc0 = dc if len(need) > 5 and need[5] else None
        return (dx, *out, dh0, dc0)


def _swap_co(xp, a, u, out=None):
    """``a`` with its last axis's gate blocks ``c`` and ``o`` (the third and fourth ``u``
    columns) swapped, into ``out`` (or a new array): Keras's ``i, f, c, o`` <-> the
    internal ``i, f, o, c``. The swap is its own inverse; block copies, where a
    fancy-index permutation took 10-20x longer."""
    if out is None:
        out = xp.empty_like(a)
    out[..., :2 * u] = a[..., :2 * u]
    out[..., 2 * u:3 * u] = a[..., 3 * u:]
    out[..., 3 * u:] = a[..., 2 * u:3 * u]
    return out
