"""``GRUFunction``: the whole-sequence GRU (``reset_after`` True or False) with BPTT."""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of
from gpunet.ops._rnn_base import _Recurrent, _tmatmul
from gpunet.ops._utils import xp_of


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
        bk = backend_of(x)
        split = ra and self._split_ok(bk)  # x W in one GEMM per block of rows
        xp, Z = self._prepare(x, W, bx, defer=split)
        T, N, G3 = Z.shape
        u = self.units
        u2 = 2 * u
        dt = x.dtype
        H = xp.empty((T + 1, N, u), dt)
        H[0] = 0 if h0 is None else h0
        RH = xp.empty((T, N, u), dt)  # reset_after: h U_h + b^r_h;  else: r * h
        act, ract, m, nm = self.act, self.ract, self.m, self.nm
        generic = act.needs_z or ract.needs_z
        Zpre = xp.empty_like(Z) if generic else None
        fused = ra and act.name == "tanh" and ract.name == "sigmoid"
        self.kernels = bk.gru_step_kernels() if fused else None
        self.cuda = self.kernels is not None
        if self.cuda:  # one fused kernel per step
            kfwd, _ = self.kernels
            rec = xp.empty((N, G3), dt)
            has_m, has_b = int(m is not None), int(bh is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T):
                self._rec_fwd(xp, H[t], U, rec)
                kfwd(rec, bh if has_b else rec, H[t], mk[t], u, has_b, has_m, Z[t], RH[t],
                     H[t + 1], size=N * u)
        cell = bk.gru_cell_step(dt) if fused and not self.cuda else None  # fused, or None
        # the whole loop of a block of rows in one call (no recurrent dropout)
        loops = self.loops = (bk.gru_loops(dt) if cell is not None and self.rdp is None
                              and U.dtype == Z.dtype == dt
                              and (bh is None or bh.dtype == dt) else None)
        keep = self.keep = None if m is None else m[:, :, 0]

        def loop(r):  # the time loop over the batch rows r
            rec = xp.empty((r.stop - r.start, G3), dt)
            tmp = xp.empty((r.stop - r.start, u), dt)
            for t in range(T):
                z, h, hn = Z[t, r], H[t, r], H[t + 1, r]
                if cell is not None:
                    if t or h0 is not None:
                        self._rec_fwd(xp, h, U, rec, r)
                    else:  # h0 = 0 (no initial state): h0 U is zero
                        rec[...] = 0
                    cell(z, rec, bh, RH[t, r], h, None if m is None else m[t, r, 0], hn)
                    continue
                if ra:
                    self._rec_fwd(xp, h, U, rec, r)
                    if bh is not None:
                        rec += bh
                    z[:, :u2] += rec[:, :u2]
                    RH[t, r] = rec[:, u2:]
                else:
                    if self.rdp is None:
                        xp.matmul(h, U[:, :u2], out=rec[:, :u2])
                    else:
                        for g in range(2):
                            sl = slice(g * u, (g + 1) * u)
                            xp.matmul(h * self.rdp[g][r], U[:, sl], out=rec[:, sl])
                    z[:, :u2] += rec[:, :u2]
                if generic:
                    Zpre[t, r, :u2] = z[:, :u2]
                ract.fwd(xp, z[:, :u2])
                zg, rg, hh = z[:, :u], z[:, u:u2], z[:, u2:]
                if ra:
                    xp.multiply(rg, RH[t, r], out=tmp)
                else:
                    h_in = h if self.rdp is None else h * self.rdp[2][r]
                    xp.multiply(rg, h_in, out=RH[t, r])
                    xp.matmul(RH[t, r], U[:, u2:], out=tmp)
                hh += tmp
                if generic:
                    Zpre[t, r, u2:] = hh
                act.fwd(xp, hh)
                xp.subtract(h, hh, out=hn)  # h' = hh + z * (h - hh)
                hn *= zg
                hn += hh
                if m is not None:
                    xp.copyto(hn, h, where=nm[t, r])

        if loops is not None:
            Uc = xp.ascontiguousarray(U)
            bhc = None if bh is None else xp.ascontiguousarray(bh)
            with bk.single_thread_blas():
                bk.run_blocks(lambda r: loops[0](Z, H, RH, Uc, bhc, keep, r, h0 is None),
                              self._blocks(bk, N))
        elif not self.cuda:
            with bk.single_thread_blas():
                bk.run_blocks(loop, self._blocks(bk, N))
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
        bk = backend_of(gys[0])
        Uh_T = None if ra else xp.ascontiguousarray(U[:, u2:].T)
        if self.cuda:
            _, kbwd = self.kernels
            dhprev = xp.empty((N, u), dt)
            has_m, has_gs = int(m is not None), int(gseq is not None)
            mk = m.reshape(T, N) if has_m else xp.ones((T, 1), bool)
            for t in range(T - 1, -1, -1):
                kbwd(Z[t], RH[t], H[t], gseq[t] if has_gs else dh, mk[t], u, has_gs, has_m, dh,
                     dZ[t], dR[t], dhprev, size=N * u)
                self._rec_back(xp, dR[t], U, dh)
                dh += dhprev
        fused = None
        if ra and not self.cuda and act.name == "tanh" and ract.name == "sigmoid":
            fused = bk.gru_bptt_step(dt)  # one pass per step (Numba), or None
        UT = xp.ascontiguousarray(U.T) if self.rdp is None else None

        # the gradient reaching h0 (the first step's product) only where h0 takes one
        need0 = self.needs_input_grad
        first = 0 if len(need0) > 4 and need0[4] else 1

        def loop_fused(r):
            dhr = dh[r]
            dhprev = xp.empty_like(dhr)
            carry = xp.empty_like(dhr) if m is not None else None
            for t in range(T - 1, -1, -1):
                fused(Z[t, r], RH[t, r], H[t, r], None if gseq is None else gseq[t, r],
                      None if m is None else m[t, r, 0], dhr, dZ[t, r], dR[t, r], dhprev, carry)
                if t < first:
                    break
                self._rec_back(xp, dR[t, r], U, dhr, r, UT)
                dhr += dhprev
                if m is not None:
                    dhr += carry

        def loop(r):
            dhr = dh[r]
            tmp, drh, dhprev = (xp.empty_like(dhr) for _ in range(3))
            carry = xp.empty_like(dhr) if m is not None else None
            for t in range(T - 1, -1, -1):
                if gseq is not None:
                    dhr += gseq[t, r]
                if m is not None:
                    xp.multiply(dhr, nm[t, r], out=carry)
                    dhr *= m[t, r]
                z, dz, h = Z[t, r], dZ[t, r], H[t, r]
                zg, rg, hh = z[:, :u], z[:, u:u2], z[:, u2:]
                # h' = z h + (1 - z) hh
                xp.subtract(h, hh, out=tmp)
                xp.multiply(dhr, tmp, out=dz[:, :u])  # d z (post-activation)
                xp.multiply(dhr, zg, out=dhprev)  # direct path to h
                xp.subtract(dhr, dhprev, out=dz[:, u2:])  # d hh = dh (1 - z)
                zp = None if Zpre is None else Zpre[t, r]
                act.grad(xp, dz[:, u2:], hh, None if zp is None else zp[:, u2:])
                dzh = dz[:, u2:]
                if ra:
                    xp.multiply(dzh, RH[t, r], out=dz[:, u:u2])  # d r
                else:
                    xp.matmul(dzh, Uh_T, out=drh)  # d (r * h_in)
                    h_in = h if self.rdp is None else h * self.rdp[2][r]
                    xp.multiply(drh, h_in, out=dz[:, u:u2])
                ract.grad(xp, dz[:, :u2], z[:, :u2], None if zp is None else zp[:, :u2])
                if ra:
                    dr = dR[t, r]
                    dr[:, :u2] = dz[:, :u2]
                    xp.multiply(dzh, rg, out=dr[:, u2:])
                    self._rec_back(xp, dr, U, dhr, r, UT)
                else:
                    self._rec_back(xp, dz[:, :u2], U[:, :u2], dhr, r)
                    xp.multiply(drh, rg, out=tmp)
                    if self.rdp is not None:
                        tmp *= self.rdp[2][r]
                    dhr += tmp
                dhr += dhprev
                if m is not None:
                    dhr += carry

        loops = self.loops
        if loops is not None:
            gs = gseq if gseq is None else xp.ascontiguousarray(gseq)
            with bk.single_thread_blas():
                bk.run_blocks(lambda r: loops[1](Z, RH, H, gs, self.keep, UT, dh, dZ, dR, r,
                                                 first),
                              self._blocks(bk, N))
        elif not self.cuda:
            with bk.single_thread_blas():
                bk.run_blocks(loop if fused is None else loop_fused, self._blocks(bk, N))
        need = self.needs_input_grad
        if self.split:  # the weight gradients in one GEMM per block of the T * N rows
            dx, parts = self._split_grads(xp, bk, dZ, H[:T], self.W, dR)
            dW, dU = self._sum_blocks(xp, parts, 0, 1), self._sum_blocks(xp, parts, 1, 2)
            db = None
            if self.has_b and len(need) > 3 and need[3]:
                db = xp.stack([self._sum_blocks(xp, parts, 2), self._sum_blocks(xp, parts, 3)])
            dh0 = dh if len(need) > 4 and need[4] else None
            return dx, dW, dU, db, dh0
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
