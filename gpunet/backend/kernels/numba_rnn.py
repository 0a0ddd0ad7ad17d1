"""Optional Numba kernels for the element-wise work of one LSTM or GRU time step on the CPU.

Each kernel walks the batch rows and, inside a row, runs short loops over contiguous gate
blocks that LLVM turns into SIMD code: ``error_model="numpy"`` lets it vectorize the
divisions (Python's error model checks every one for zero), and each loop writes one or two
arrays only, so the run-time alias checks stay within what the vectorizer accepts (one loop
writing four arrays ran scalar, about 3x slower). The kernels release the GIL, so the time
loops may run them on several row blocks at once (``gpunet.backend.cpu_threads``).

Without Numba, or with ``GPUNET_NUMBA=0``, each getter returns None and the recurrent ops keep
their NumPy paths, which the tests use as the reference.
"""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels.numba_cpu import _STATE, _float_ok, numba_enabled


def _jit() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True, error_model="numpy")


def _build_lstm_cell() -> Any:
    @_jit()
    def cell(z, cprev, cnew):  # pragma: no cover - compiled
        n_, u = cnew.shape
        one, two = z.dtype.type(1), z.dtype.type(2)
        for n in range(n_):
            zs, zg = z[n, :3 * u], z[n, 3 * u:]
            zi, zf = z[n, :u], z[n, u:2 * u]
            cp, cw = cprev[n], cnew[n]
            for j in range(3 * u):
                zs[j] = one / (one + zs[j])
            for j in range(u):
                zg[j] = two / (one + zg[j]) - one
            for j in range(u):
                cw[j] = zf[j] * cp[j] + zi[j] * zg[j]

    return cell


def lstm_cell_step(dtype: Any = None) -> Any:
    """The element-wise forward of one LSTM step after ``z = exp(-pre-activations)`` (NumPy
    layout ``i, f, o, g``, the ``g`` column scaled by 2): ``cell(z, c_prev, c_new)`` turns
    ``z`` into the gates (``1 / (1 + z)``; ``g``: ``2 / (1 + z) - 1``) and writes
    ``c_new = f c_prev + i g``. None without Numba."""
    if not _float_ok(dtype) or not numba_enabled():
        return None
    if "lstm_cell" not in _STATE:
        _STATE["lstm_cell"] = _build_lstm_cell()
    return _STATE["lstm_cell"]


def _build_lstm_bptt() -> Any:
    @_jit()
    def step(z, cprev, tc, gs, has_gs, keep, has_m, dh, dz, dc,
             carry):  # pragma: no cover - compiled
        n_, u = dc.shape
        one, zero = dz.dtype.type(1), dz.dtype.type(0)
        for n in range(n_):
            zi, zf, zo, zg = z[n, :u], z[n, u:2 * u], z[n, 2 * u:3 * u], z[n, 3 * u:]
            di, df, do, dg = dz[n, :u], dz[n, u:2 * u], dz[n, 2 * u:3 * u], dz[n, 3 * u:]
            dhr, dcr, cpr, tcr = dh[n], dc[n], cprev[n], tc[n]
            if has_gs:
                gsr = gs[n]
                for j in range(u):
                    dhr[j] += gsr[j]
            if has_m:
                car = carry[n]
                if not keep[n]:  # a masked step: the gradients skip it
                    for j in range(u):
                        car[j] = dhr[j]
                    dz[n] = zero
                    continue
                car[:] = zero
            for j in range(u):  # d c += dh o act'(c)
                t = tcr[j]
                dcr[j] += dhr[j] * zo[j] * (one - t * t)
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

    return step


def lstm_bptt_step(dtype: Any = None) -> Any:
    """The element-wise back-propagation of one LSTM step (tanh / sigmoid), for the NumPy
    layout of ``gpunet.ops.rnn_lstm`` (gates ``i, f, o, g`` after activation):
    ``step(z, c_prev, act_c, g_seq or None, mask_row or None, dh, dz, dc, carry)`` adds
    ``g_seq`` into ``dh``, writes ``dz`` (pre-activation gradients), updates ``dc`` and, with
    a mask, ``carry`` (the part of ``dh`` that skips the step). None without Numba."""
    if not _float_ok(dtype) or not numba_enabled():
        return None
    if "lstm_bptt" not in _STATE:
        import numpy as np

        kernel = _build_lstm_bptt()
        no_mask = np.ones(1, bool)

        def step(z, cprev, tc, gs, keep, dh, dz, dc, carry):
            kernel(z, cprev, tc, dh if gs is None else gs, gs is not None,
                   no_mask if keep is None else keep, keep is not None, dh, dz, dc,
                   dh if carry is None else carry)

        _STATE["lstm_bptt"] = step
    return _STATE["lstm_bptt"]


def _build_gru_bptt() -> Any:
    @_jit()
    def step(z, rhs, hprev, gs, has_gs, keep, has_m, dh, dz, dr, direct,
             carry):  # pragma: no cover - compiled
        n_, u = direct.shape
        one, zero = dz.dtype.type(1), dz.dtype.type(0)
        for n in range(n_):
            zz, zr, zh = z[n, :u], z[n, u:2 * u], z[n, 2 * u:]
            dzz, dzr, dzh = dz[n, :u], dz[n, u:2 * u], dz[n, 2 * u:]
            drz, drh = dr[n, :2 * u], dr[n, 2 * u:]
            dzzr = dz[n, :2 * u]
            dhr, hp, rh, dd = dh[n], hprev[n], rhs[n], direct[n]
            if has_gs:
                gsr = gs[n]
                for j in range(u):
                    dhr[j] += gsr[j]
            if has_m:
                car = carry[n]
                if not keep[n]:  # a masked step: the gradient skips it
                    for j in range(u):
                        car[j] = dhr[j]
                    dz[n] = zero
                    dr[n] = zero
                    dd[:] = zero
                    continue
                car[:] = zero
            for j in range(u):
                zg = zz[j]
                dzz[j] = dhr[j] * (hp[j] - zh[j]) * ((one - zg) * zg)
            for j in range(u):  # the direct path to the previous h
                dd[j] = dhr[j] * zz[j]
            for j in range(u):
                hh = zh[j]
                dzh[j] = (dhr[j] - dd[j]) * (one - hh * hh)
            for j in range(u):
                r = zr[j]
                dzr[j] = dzh[j] * rh[j] * ((one - r) * r)
            for j in range(2 * u):
                drz[j] = dzzr[j]
            for j in range(u):
                drh[j] = dzh[j] * zr[j]

    return step


def gru_bptt_step(dtype: Any = None) -> Any:
    """The element-wise back-propagation of one GRU step (``reset_after``, tanh / sigmoid) for
    the array layout of ``gpunet.ops.rnn_gru`` (gates ``z, r, h~`` after activation, ``rhs`` =
    ``h U_h + b^r_h``): ``step(z, rhs, h_prev, g_seq or None, mask_row or None, dh, dz, dr,
    direct, carry)`` adds ``g_seq`` into ``dh``, writes the pre-activation gradients ``dz``,
    the gradient ``dr`` of ``h U + b^r``, the direct path ``direct`` to the previous ``h``
    and, with a mask, ``carry``. None without Numba."""
    if not _float_ok(dtype) or not numba_enabled():
        return None
    if "gru_bptt" not in _STATE:
        import numpy as np

        kernel = _build_gru_bptt()
        no_mask = np.ones(1, bool)

        def step(z, rhs, hprev, gs, keep, dh, dz, dr, direct, carry):
            kernel(z, rhs, hprev, dh if gs is None else gs, gs is not None,
                   no_mask if keep is None else keep, keep is not None, dh, dz, dr, direct,
                   dh if carry is None else carry)

        _STATE["gru_bptt"] = step
    return _STATE["gru_bptt"]


def _build_gru_cell() -> tuple:
    jit = _jit()

    @jit
    def pre(z, rec, bh, has_b, rhs):  # pragma: no cover - compiled
        n_, u = rhs.shape
        for n in range(n_):
            zs, rs, rh, hr = z[n, :2 * u], rec[n, :2 * u], rec[n, 2 * u:], rhs[n]
            if has_b:
                bs, bhh = bh[:2 * u], bh[2 * u:]
                for j in range(2 * u):
                    zs[j] = -(zs[j] + (rs[j] + bs[j]))
                for j in range(u):
                    hr[j] = rh[j] + bhh[j]
            else:
                for j in range(2 * u):
                    zs[j] = -(zs[j] + rs[j])
                for j in range(u):
                    hr[j] = rh[j]

    @jit
    def gates(z, rhs):  # pragma: no cover - compiled
        n_, u = rhs.shape
        one = z.dtype.type(1)
        for n in range(n_):
            zs, zr, zh, hr = z[n, :2 * u], z[n, u:2 * u], z[n, 2 * u:], rhs[n]
            for j in range(2 * u):
                zs[j] = one / (one + zs[j])
            for j in range(u):
                zh[j] += zr[j] * hr[j]

    @jit
    def state(z, hprev, keep, has_m, hnew):  # pragma: no cover - compiled
        n_, u = hnew.shape
        for n in range(n_):
            hp, hw = hprev[n], hnew[n]
            if has_m and not keep[n]:
                hw[:] = hp
                continue
            zz, zh = z[n, :u], z[n, 2 * u:]
            for j in range(u):
                hh = zh[j]
                hw[j] = hh + zz[j] * (hp[j] - hh)

    return pre, gates, state


def gru_cell_step(dtype: Any = None) -> Any:
    """The element-wise forward of one GRU step (``reset_after``, tanh / sigmoid) around
    NumPy's ``exp`` and ``tanh``: ``step(z, rec, bh or None, rhs, h_prev, mask_row or None,
    h_new)`` with ``z`` the step's input projections ``(N, 3u)`` (left holding the gates
    ``z, r, h~``), ``rec = h_prev U``, ``rhs`` receiving ``h_prev U_h + b^r_h``. None
    without Numba."""
    if not _float_ok(dtype) or not numba_enabled():
        return None
    if "gru_cell" not in _STATE:
        import numpy as np

        pre, gates, state = _build_gru_cell()
        no_mask = np.ones(1, bool)

        def step(z, rec, bh, rhs, hprev, keep, hnew):
            u = rhs.shape[1]
            pre(z, rec, rec[0] if bh is None else bh, bh is not None, rhs)
            zr = z[:, :2 * u]
            np.exp(zr, out=zr)
            gates(z, rhs)
            hh = z[:, 2 * u:]
            np.tanh(hh, out=hh)
            state(z, hprev, no_mask if keep is None else keep, keep is not None, hnew)

        _STATE["gru_cell"] = step
    return _STATE["gru_cell"]
