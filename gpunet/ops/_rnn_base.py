"""The machinery shared by the recurrent Functions: the time loop, masks, dropout and the
backward GEMMs over all steps (see ``gpunet.ops.rnn``)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._rnn_support import (
    _Act,
)
from gpunet.ops._utils import xp_of

# -- the shared machinery ----------------------------------------------------------------------


def _tmatmul(xp, a, b, out=None):
    """``a.T @ b`` (a weight gradient: a long reduction over batch and time), in the
    orientation the backend computes fastest (``Backend.matmul_tn``)."""
    return backend_of(a).matmul_tn(a, b, out)


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
    def _prepare(self, x, W, bx, defer=False):
        """Time-major inputs, mask and the hoisted input projection ``Z = x W + b`` (with
        ``defer`` and no per-gate dropout mask, one GEMM per block of rows of ``x W``, on the
        backend's threads: ``self.split``, and ``_split_grads`` forms the weight gradients
        the same way)."""
        xp = xp_of(x)
        N, T, F = x.shape
        Gu = W.shape[1]
        xs = x.transpose(1, 0, 2)
        if self.go_backwards:
            xs = xs[::-1]
        xs = xp.ascontiguousarray(xs)
        self.xs2 = xs.reshape(T * N, F)
        dp = self.dp
        self.split = defer and (dp is None or dp.ndim == 2)
        if self.split:
            xin = self.xin = self.xs2 if dp is None else (xs * dp).reshape(T * N, F)
            Z = xp.empty((T * N, Gu), x.dtype)

            def project(r):
                zr = Z[r]
                xp.matmul(xin[r], W, out=zr)
                if bx is not None:
                    zr += bx

            bk = backend_of(x)
            with bk.single_thread_blas():
                bk.run_blocks(project, bk.row_blocks(T * N))
        elif dp is None or dp.ndim == 2:
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
        if bx is not None and not self.split:
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

    def _split_ok(self, bk):
        """Whether each row block forms its own input projection and its share of the weight
        gradients (no per-gate dropout masks; a loop over row blocks on the CPU)."""
        return bk.is_host and self.rdp is None and (self.dp is None or self.dp.ndim == 2)

    def _split_grads(self, xp, bk, dZ, Hin, W, dR=None):
        """``dx`` and the blocks' shares ``(dW, dU, d bias_x, d bias_r)`` of the weight
        gradients (``dU = sum_t Hin_t^T dR_t``, ``dR`` defaulting to ``dZ``), each block of
        the ``T * N`` rows on one of the backend's threads (``_sum_blocks`` adds them up)."""
        need = self.needs_input_grad
        T, N, G = dZ.shape
        dZ2 = dZ.reshape(T * N, G)
        dR2 = dZ2 if dR is None else dR.reshape(T * N, -1)
        H2 = Hin.reshape(T * N, -1)
        F = self.xshape[2]
        dx2 = xp.empty((T * N, F), dZ.dtype) if need[0] else None
        has_b = self.has_b

        def grads(r):
            dZr, dRr = dZ2[r], dR2[r]
            dW = self.xin[r].T @ dZr if need[1] else None
            dU = H2[r].T @ dRr if need[2] else None
            dbx = dZr.sum(axis=0) if has_b else None
            dbr = dRr.sum(axis=0) if has_b and dR is not None else None
            if dx2 is not None:
                xp.matmul(dZr, W.T, out=dx2[r])
            return dW, dU, dbx, dbr

        with bk.single_thread_blas():
            parts = bk.run_blocks(grads, bk.row_blocks(T * N))
        dx = None
        if dx2 is not None:
            dxs = dx2.reshape(T, N, F)
            if self.dp is not None:
                dxs *= self.dp
            if self.go_backwards:
                dxs = dxs[::-1]
            dx = xp.ascontiguousarray(dxs.transpose(1, 0, 2))
        return dx, parts

    def _sum_blocks(self, xp, parts, k, index=None):
        """The sum of the blocks' share ``k`` of the weight gradients (None where not formed),
        written into the gradient buffer of input ``index`` where there is one."""
        ps = [p[k] for p in parts]
        if ps[0] is None:
            return None
        out = None if index is None else self.grad_buffer(index)
        if out is None:
            out = ps[0]
            for p in ps[1:]:
                out += p
            return out
        if len(ps) == 1:
            out[...] = ps[0]
        else:
            xp.add(ps[0], ps[1], out=out)
            for p in ps[2:]:
                out += p
        return out

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

    def _rec_back(self, xp, dr, U, out, rows=slice(None), UT=None):
        """``out = sum_g (dr_g @ U_g^T) * rdp_g`` (the gradient reaching the previous h) for
        the batch rows ``rows``; ``UT``: ``U.T`` made contiguous (a faster GEMM on the CPU)."""
        if self.rdp is None:
            return xp.matmul(dr, U.T if UT is None else UT, out=out)
        u = self.units
        out[...] = 0
        for g in range(dr.shape[1] // u):
            sl = slice(g * u, (g + 1) * u)
            out += (dr[:, sl] @ U[:, sl].T) * self.rdp[g][rows]
        return out

    def _rec_fwd(self, xp, h, U, out, rows=slice(None)):
        """``out = h @ U`` with per-gate recurrent dropout when there is one (``h`` holds the
        batch rows ``rows``)."""
        if self.rdp is None:
            return xp.matmul(h, U, out=out)
        u = self.units
        for g in range(U.shape[1] // u):
            sl = slice(g * u, (g + 1) * u)
            xp.matmul(h * self.rdp[g][rows], U[:, sl], out=out[:, sl])
        return out

    def _blocks(self, bk, n, threads_ok=True):
        """The row blocks of the time loop: several where the backend runs them on threads
        and the activations are known closed forms (a custom activation is user code, which
        may not be safe to run on several threads, so it stays on the calling thread)."""
        generic = self.act.needs_z or self.ract.needs_z
        return bk.row_blocks(n) if threads_ok and not generic else [slice(0, n)]
