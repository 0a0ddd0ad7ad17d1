"""Optional Numba kernels running a whole LSTM or GRU time loop over a block of batch rows.

The per-step paths of ``gpunet.ops.rnn_lstm`` and ``gpunet.ops.rnn_gru`` call, from Python,
one GEMM and a few NumPy and Numba passes per step. With small blocks (a batch of 32 split
over two threads) those calls cost as much as the arithmetic, and the threads queue for the
GIL between them. Here each block's loop is one call that releases the GIL: the step's
product goes straight to the OpenBLAS that NumPy loaded (its CBLAS ``gemm``, called through
a ctypes pointer, so the same code NumPy's ``matmul`` runs), and the element-wise work is
loops that LLVM vectorizes.

``exp`` and ``tanh`` are written out, because Numba's are scalar calls into libm: in float32,
``exp`` is Cephes's ``expf`` (range reduction by ``ln 2``, a degree-6 polynomial, the power of
two added into the exponent bits; within 2 ulp) and ``tanh`` Cephes's ``tanhf`` (an odd
polynomial below 0.625, ``1 - 2 / (exp(2x) + 1)`` above). float64 arrays use libm.

Found only where NumPy's OpenBLAS exports ``scipy_cblas_sgemm64_`` / ``scipy_cblas_dgemm64_``
(NumPy 2's wheels on Linux); elsewhere, without Numba, or with ``GPUNET_NUMBA=0`` the getters
return None and the recurrent ops keep their per-step paths, which the tests use as reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet.backend.kernels.numba_cpu import _STATE, _float_ok, numba_enabled

ROW_MAJOR, NO_TRANS = 101, 111
_NO_MASK = np.ones((1, 1), bool)


def _gemms(lib: Any) -> tuple | None:
    """``(sgemm, dgemm)``: ctypes functions of the CBLAS ``gemm`` of the OpenBLAS ``lib`` (a
    ctypes library, or None), or None where it has none."""
    if "cblas" not in _STATE:
        found = None
        names = ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_")
        if lib is not None and all(hasattr(lib, n) for n in names):
            import ctypes

            i32, i64, vp = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
            fns = []
            for name, real in zip(names, (ctypes.c_float, ctypes.c_double)):
                proto = ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, real, vp, i64,
                                         vp, i64, real, vp, i64)
                fns.append(proto(ctypes.cast(getattr(lib, name), vp).value))
            found = tuple(fns)
        _STATE["cblas"] = found
    return _STATE["cblas"]


# The loops below are plain functions that ``_build`` compiles (Numba is optional). They call
# each other through these module globals rather than closures: Numba's disk cache misses, and
# so recompiles in every process, a function that closes over another compiled function.
_EXP: Any = None
_TANH: Any = None
_ENTER: Any = None


def _exp(a):  # pragma: no cover - compiled; a = exp(a) in place, a 1-D
    if a.itemsize != 4:
        for j in range(a.size):
            a[j] = math.exp(a[j])
        return
    bits = a.view(np.int32)
    for j in range(a.size):
        x = min(max(a[j], np.float32(-87.3)), np.float32(88.7))
        n = np.float32(math.floor(x * np.float32(1.44269504088896341) + np.float32(0.5)))
        r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
        p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        a[j] = p * r * r + r + np.float32(1.0)
        bits[j] += np.int32(n) << 23

def _tanh(x, out):  # pragma: no cover - compiled; out = tanh(x), 1-D
    if x.itemsize != 4:
        for j in range(x.size):
            out[j] = math.tanh(x[j])
        return
    for j in range(x.size):  # exp(2|x|), clamped below float32's overflow
        out[j] = min(np.float32(2.0) * abs(x[j]), np.float32(88.0))
    _EXP(out)
    for j in range(x.size):
        v = x[j]
        z = v * v
        small = ((((np.float32(-5.70498872745e-3) * z + np.float32(2.06390887954e-2)) * z
                   - np.float32(5.37397155531e-2)) * z + np.float32(1.33314422036e-1)) * z
                 - np.float32(3.33332819422e-1)) * z * v + v
        big = np.float32(1.0) - np.float32(2.0) / (out[j] + np.float32(1.0))
        out[j] = small if abs(v) < np.float32(0.625) else (big if v > 0 else -big)


def _enter(dh, gs, has_gs, keep, has_m, carry, t, row):  # pragma: no cover - compiled
    """The start of a backward step of one row: ``dh += g_seq[t]``; with a mask, whether the
    step is masked (then ``carry = dh``, the part that skips it; else ``carry = 0``)."""
    if has_gs:
        g = gs[t, row]
        for j in range(dh.size):
            dh[j] += g[j]
    if not has_m:
        return False
    if not keep[t, row]:
        for j in range(dh.size):
            carry[j] = dh[j]
        return True
    for j in range(dh.size):
        carry[j] = dh.dtype.type(0)
    return False


def _forward(gemm, Z, H, C, TC, U, keep, has_m, r0, r1,
             skip_first):  # pragma: no cover - compiled
    T, _, G = Z.shape
    u = G // 4
    rows = r1 - r0
    one, two = Z.dtype.type(1), Z.dtype.type(2)
    for t in range(T):
        z = Z[t, r0:r1]
        if t > 0 or not skip_first:  # z += h_{t-1} U
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, G, u, one, H[t, r0:r1].ctypes.data,
                 u, U.ctypes.data, G, one, z.ctypes.data, G)
        for n in range(rows):
            zr = z[n]
            _EXP(zr)
            zs, zg = zr[:3 * u], zr[3 * u:]
            zi, zf, zo = zr[:u], zr[u:2 * u], zr[2 * u:3 * u]
            cp, cw, tc, hw = C[t, r0 + n], C[t + 1, r0 + n], TC[t, r0 + n], H[t + 1, r0 + n]
            for j in range(3 * u):
                zs[j] = one / (one + zs[j])
            for j in range(u):
                zg[j] = two / (one + zg[j]) - one
            for j in range(u):
                cw[j] = zf[j] * cp[j] + zi[j] * zg[j]
            _TANH(cw, tc)
            if has_m and not keep[t, r0 + n]:  # a masked step keeps the states
                hp = H[t, r0 + n]
                for j in range(u):
                    hw[j] = hp[j]
                for j in range(u):
                    cw[j] = cp[j]
                continue
            for j in range(u):
                hw[j] = zo[j] * tc[j]


def _backward(gemm, Z, C, TC, gs, has_gs, keep, has_m, UT, dh, dc, dZ, carry, r0, r1,
              first):  # pragma: no cover - compiled
    T, _, G = Z.shape
    u = G // 4
    rows = r1 - r0
    one, zero = Z.dtype.type(1), Z.dtype.type(0)
    for t in range(T - 1, -1, -1):
        for n in range(rows):
            z, dz = Z[t, r0 + n], dZ[t, r0 + n]
            zi, zf, zo, zg = z[:u], z[u:2 * u], z[2 * u:3 * u], z[3 * u:]
            di, df, do, dg = dz[:u], dz[u:2 * u], dz[2 * u:3 * u], dz[3 * u:]
            dhr, dcr, cpr, tcr = dh[r0 + n], dc[r0 + n], C[t, r0 + n], TC[t, r0 + n]
            if _ENTER(dhr, gs, has_gs, keep, has_m, carry[n], t, r0 + n):
                for j in range(G):  # a masked step: the gradients skip it
                    dz[j] = zero
                continue
            for j in range(u):  # d c += dh o act'(c)
                v = tcr[j]
                dcr[j] += dhr[j] * zo[j] * (one - v * v)
            for j in range(u):
                og = zo[j]
                do[j] = dhr[j] * tcr[j] * (og * (one - og))
            for j in range(u):
                ig, gg, dct = zi[j], zg[j], dcr[j]
                di[j] = dct * gg * (ig * (one - ig))
                dg[j] = dct * ig * (one - gg * gg)
            for j in range(u):
                fg = zf[j]
                df[j] = dcr[j] * cpr[j] * (fg * (one - fg))
            for j in range(u):
                dcr[j] *= zf[j]
        if t >= first:  # dh = dz_t U^T, the gradient reaching h_{t-1}
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, u, G, one,
                 dZ[t, r0:r1].ctypes.data, G, UT.ctypes.data, u, zero,
                 dh[r0:r1].ctypes.data, u)
            if has_m:  # plus what skipped the masked steps
                for n in range(rows):
                    dhr, car = dh[r0 + n], carry[n]
                    for j in range(u):
                        dhr[j] += car[j]


def _gru_forward(gemm, Z, H, RH, U, bh, has_b, keep, has_m, rec, tmp, r0, r1,
                 skip_first):  # pragma: no cover - compiled
    T, _, G = Z.shape
    u = G // 3
    rows = r1 - r0
    one, zero = Z.dtype.type(1), Z.dtype.type(0)
    for t in range(T):
        if t > 0 or not skip_first:  # rec = h_{t-1} U
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, G, u, one, H[t, r0:r1].ctypes.data,
                 u, U.ctypes.data, G, zero, rec.ctypes.data, G)
        else:
            for n in range(rows):
                rc = rec[n]
                for j in range(G):
                    rc[j] = zero
        for n in range(rows):
            z, rc = Z[t, r0 + n], rec[n]
            zs, zz, zr, zh = z[:2 * u], z[:u], z[u:2 * u], z[2 * u:]
            rs, rh = rc[:2 * u], rc[2 * u:]
            rhs, hp, hw = RH[t, r0 + n], H[t, r0 + n], H[t + 1, r0 + n]
            if has_b:
                bs, bhh = bh[:2 * u], bh[2 * u:]
                for j in range(2 * u):
                    zs[j] = -(zs[j] + (rs[j] + bs[j]))
                for j in range(u):
                    rhs[j] = rh[j] + bhh[j]
            else:
                for j in range(2 * u):
                    zs[j] = -(zs[j] + rs[j])
                for j in range(u):
                    rhs[j] = rh[j]
            _EXP(zs)
            for j in range(2 * u):
                zs[j] = one / (one + zs[j])
            for j in range(u):
                zh[j] += zr[j] * rhs[j]
            _TANH(zh, tmp)
            for j in range(u):
                zh[j] = tmp[j]
            if has_m and not keep[t, r0 + n]:  # a masked step keeps the state
                for j in range(u):
                    hw[j] = hp[j]
                continue
            for j in range(u):
                hh = zh[j]
                hw[j] = hh + zz[j] * (hp[j] - hh)


def _gru_backward(gemm, Z, RH, H, gs, has_gs, keep, has_m, UT, dh, dZ, dR, direct, carry,
                  r0, r1, first):  # pragma: no cover - compiled
    T, _, G = Z.shape
    u = G // 3
    rows = r1 - r0
    one, zero = Z.dtype.type(1), Z.dtype.type(0)
    for t in range(T - 1, -1, -1):
        for n in range(rows):
            z, dz, dr = Z[t, r0 + n], dZ[t, r0 + n], dR[t, r0 + n]
            zz, zr, zh = z[:u], z[u:2 * u], z[2 * u:]
            dzz, dzr, dzh = dz[:u], dz[u:2 * u], dz[2 * u:]
            dhr, hp, rh, dd = dh[r0 + n], H[t, r0 + n], RH[t, r0 + n], direct[n]
            if _ENTER(dhr, gs, has_gs, keep, has_m, carry[n], t, r0 + n):
                for j in range(G):  # a masked step: the gradient skips it
                    dz[j] = zero
                for j in range(G):
                    dr[j] = zero
                for j in range(u):
                    dd[j] = zero
                continue
            for j in range(u):
                zg = zz[j]
                dzz[j] = dhr[j] * (hp[j] - zh[j]) * ((one - zg) * zg)
            for j in range(u):  # the direct path to the previous h
                dd[j] = dhr[j] * zz[j]
            for j in range(u):
                hh = zh[j]
                dzh[j] = (dhr[j] - dd[j]) * (one - hh * hh)
            for j in range(u):
                rg = zr[j]
                dzr[j] = dzh[j] * rh[j] * ((one - rg) * rg)
            for j in range(2 * u):
                dr[j] = dz[j]
            for j in range(u):
                dr[2 * u + j] = dzh[j] * zr[j]
        if t < first:
            break
        # dh = dr_t U^T (the gradient reaching h_{t-1} through the products), plus the
        # direct path, plus what skipped masked steps
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, u, G, one, dR[t, r0:r1].ctypes.data, G,
             UT.ctypes.data, u, zero, dh[r0:r1].ctypes.data, u)
        for n in range(rows):
            dhr, dd = dh[r0 + n], direct[n]
            for j in range(u):
                dhr[j] += dd[j]
            if has_m:
                car = carry[n]
                for j in range(u):
                    dhr[j] += car[j]


def _build() -> tuple:
    global _EXP, _TANH, _ENTER
    import numba

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    _EXP = jit(_exp)
    _TANH = jit(_tanh)
    _ENTER = jit(_enter)
    return (jit(_forward), jit(_backward), _EXP, _TANH, jit(_gru_forward),
            jit(_gru_backward))


def _kernels() -> tuple:
    if "rnn_loops" not in _STATE:
        _STATE["rnn_loops"] = _build()
    return _STATE["rnn_loops"]


def _checker(dt: Any) -> Any:
    def check(*arrays):  # the products read and write through raw pointers
        for a in arrays:
            if a.dtype != dt or not a.flags.c_contiguous:
                raise ValueError(f"rnn loops ({dt}): every array must be C-contiguous "
                                 f"{dt}; received {a.dtype} of strides {a.strides}")

    return check


def lstm_loops(dtype: Any, blas: Any) -> tuple | None:
    """``(forward, backward)`` running the default LSTM's time loop (tanh / sigmoid, no
    recurrent dropout) over the batch rows ``r`` in one call that releases the GIL, for the
    layout of ``gpunet.ops.rnn_lstm`` (gate columns ``i, f, o, c`` pre-scaled by -1, -1, -1,
    -2; ``Z`` the step inputs ``x W + b``; ``keep`` the ``(T, N)`` mask or None):

    - ``forward(Z, H, C, TC, U, keep, r, skip_first)`` leaves the gates in ``Z`` and writes
      ``H[1:]``, ``C[1:]`` (a masked step keeps the previous states) and ``TC = tanh`` of the
      step's new cell (``skip_first``: ``H[0]`` is zero);
    - ``backward(Z, C, TC, g_seq or None, keep, UT, dh, dc, dZ, r, first)`` writes ``dZ``
      (zero at masked steps), and leaves in ``dh``/``dc`` the gradients reaching ``h0``/``c0``
      (``dh`` only with ``first = 0``).

    ``blas``: the ctypes handle of the OpenBLAS whose thread count the caller sets to one around
    the loops. None where Numba or its CBLAS ``gemm`` is missing, or for another dtype."""
    if dtype is None or not _float_ok(dtype) or not numba_enabled():
        return None
    gemms = _gemms(blas)
    if gemms is None:
        return None
    fwd, bwd = _kernels()[:2]
    gemm = gemms[0] if np.dtype(dtype).itemsize == 4 else gemms[1]

    check = _checker(np.dtype(dtype))

    def forward(Z, H, C, TC, U, keep, r, skip_first):
        check(Z, H, C, TC, U)
        fwd(gemm, Z, H, C, TC, U, _NO_MASK if keep is None else keep, keep is not None,
            r.start, r.stop, skip_first)

    def backward(Z, C, TC, gs, keep, UT, dh, dc, dZ, r, first):
        check(Z, C, TC, UT, dh, dc, dZ)
        carry = dh[r] if keep is None else np.empty_like(dh[r])
        bwd(gemm, Z, C, TC, dh[None] if gs is None else gs, gs is not None,
            _NO_MASK if keep is None else keep, keep is not None, UT, dh, dc, dZ, carry,
            r.start, r.stop, first)

    return forward, backward


def gru_loops(dtype: Any, blas: Any) -> tuple | None:
    """``(forward, backward)`` running the default GRU's time loop (``reset_after``, tanh /
    sigmoid, no recurrent dropout) over the batch rows ``r`` in one call that releases the
    GIL, for the layout of ``gpunet.ops.rnn_gru`` (gate columns ``z, r, h~``; ``Z`` the step
    inputs ``x W + b^x``; ``bh`` the recurrent bias ``b^r`` or None; ``keep`` the ``(T, N)``
    mask or None):

    - ``forward(Z, H, RH, U, bh, keep, r, skip_first)`` leaves the gates in ``Z``, writes
      ``RH = h U_h + b^r_h`` and ``H[1:]`` (a masked step keeps the previous state);
    - ``backward(Z, RH, H, g_seq or None, keep, UT, dh, dZ, dR, r, first)`` writes ``dZ`` and
      ``dR`` (the gradient of ``h U + b^r``), and leaves in ``dh`` the gradient reaching ``h0``
      (with ``first = 0``).

    None where Numba or its CBLAS ``gemm`` is missing, or for another dtype."""
    if dtype is None or not _float_ok(dtype) or not numba_enabled():
        return None
    gemms = _gemms(blas)
    if gemms is None:
        return None
    fwd, bwd = _kernels()[4:6]
    gemm = gemms[0] if np.dtype(dtype).itemsize == 4 else gemms[1]
    check = _checker(np.dtype(dtype))

    def forward(Z, H, RH, U, bh, keep, r, skip_first):
        check(Z, H, RH, U, *(() if bh is None else (bh,)))
        rows, G = r.stop - r.start, Z.shape[2]
        fwd(gemm, Z, H, RH, U, U[0] if bh is None else bh, bh is not None,
            _NO_MASK if keep is None else keep, keep is not None,
            np.empty((rows, G), Z.dtype), np.empty(G // 3, Z.dtype), r.start, r.stop,
            skip_first)

    def backward(Z, RH, H, gs, keep, UT, dh, dZ, dR, r, first):
        check(Z, RH, H, UT, dh, dZ, dR)
        rows = r.stop - r.start
        direct = np.empty((rows, dh.shape[1]), dh.dtype)
        carry = direct if keep is None else np.empty_like(direct)
        bwd(gemm, Z, RH, H, dh[None] if gs is None else gs, gs is not None,
            _NO_MASK if keep is None else keep, keep is not None, UT, dh, dZ, dR, direct, carry,
            r.start, r.stop, first)

    return forward, backward
