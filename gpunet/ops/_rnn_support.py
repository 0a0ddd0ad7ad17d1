"""Helpers of ``gpunet.ops.rnn``: activations on raw arrays, the fused per-step CuPy kernels
of the default LSTM and GRU, and OpenBLAS thread control for the time loop."""

from __future__ import annotations

import contextlib
from typing import Any

from gpunet.autograd.engine import enable_grad, no_grad
from gpunet.autograd.tensor import Tensor

# -- activations on raw arrays -----------------------------------------------------------------


class _Act:
    """An activation applied in place, with its derivative computed from the output.

    Known names get closed forms; any other callable (a gpunet activation written with ops)
    is applied through a Tensor and differentiated with the autograd engine.
    """

    KNOWN = ("tanh", "sigmoid", "linear", "relu", "hard_sigmoid", "softsign")

    def __init__(self, spec: Any) -> None:
        name = spec if isinstance(spec, str) else None
        if name is None and callable(spec):
            n = getattr(spec, "__name__", None)
            if n in self.KNOWN and getattr(spec, "__module__", "").startswith("gpunet."):
                name = n
        self.name = name if name in self.KNOWN else None
        self.fn = None if self.name else spec
        if self.name is None and not callable(spec):
            raise ValueError(f"Unknown recurrent activation {spec!r}.")
        self.needs_z = self.name is None

    def fwd(self, xp, z, out=None):
        """``out = act(z)`` (``out`` may be ``z``)."""
        if out is None:
            out = z
        n = self.name
        if n == "tanh":
            xp.tanh(z, out=out)
        elif n == "sigmoid":
            xp.multiply(z, 0.5, out=out)
            xp.tanh(out, out=out)
            out *= 0.5
            out += 0.5
        elif n == "linear":
            if out is not z:
                out[...] = z
        elif n == "relu":
            xp.maximum(z, 0, out=out)
        elif n == "hard_sigmoid":
            xp.multiply(z, 1.0 / 6.0, out=out)
            out += 0.5
            xp.clip(out, 0.0, 1.0, out=out)
        elif n == "softsign":
            d = xp.abs(z)
            d += 1
            xp.divide(z, d, out=out)
        else:
            with no_grad():
                out[...] = self.fn(Tensor(z)).data
        return out

    def grad(self, xp, g, y, z=None, out=None):
        """``g * act'(z)`` given the output ``y`` (and ``z`` for generic activations)."""
        if out is None:
            out = g
        n = self.name
        if n == "tanh":
            t = y * y
            xp.subtract(1, t, out=t)
            xp.multiply(g, t, out=out)
        elif n == "sigmoid":
            t = 1 - y
            t *= y
            xp.multiply(g, t, out=out)
        elif n == "linear":
            if out is not g:
                out[...] = g
        elif n == "relu":
            xp.multiply(g, y > 0, out=out)
        elif n == "hard_sigmoid":
            xp.multiply(g, (y > 0) & (y < 1), out=out)
            out *= 1.0 / 6.0
        elif n == "softsign":
            t = 1 - xp.abs(y)
            t *= t
            xp.multiply(g, t, out=out)
        else:
            with enable_grad():
                zt = Tensor(z.copy(), requires_grad=True)
                self.fn(zt).backward(g)
            out[...] = zt.grad
        return out


# -- the shared machinery ----------------------------------------------------------------------


_BLAS: list = []  # [(set_num_threads, get_num_threads)] once found, [None] if not


def _openblas():
    """OpenBLAS's thread-count setter/getter from the loaded library (Linux), or None."""
    if not _BLAS:
        found = None
        try:
            import ctypes

            with open("/proc/self/maps") as f:
                paths = sorted({ln.split()[-1] for ln in f
                                if "openblas" in ln.lower() and ".so" in ln})
            for path in paths:
                lib = ctypes.CDLL(path)
                for pre in ("scipy_openblas", "openblas"):
                    for suf in ("64_", ""):
                        st = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                        gt = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                        if st is not None and gt is not None and found is None:
                            found = (st, gt)
        except (OSError, ValueError):
            found = None
        _BLAS.append(found)
    return _BLAS[0]


@contextlib.contextmanager
def _single_thread_gemm(xp):
    """Runs the per-step GEMMs of the time loop on one OpenBLAS thread.

    A step's GEMM is small ((batch, units) x (units, gates*units)); OpenBLAS still splits
    it over its threads, and on a busy machine the second thread is often not scheduled in
    time: measured here on 2 loaded cores, 60 us per GEMM on one thread against 0.2-8 ms on
    two. The large hoisted GEMMs before and after the loop keep every thread.
    """
    fns = _openblas() if xp.__name__ == "numpy" else None
    if fns is None:
        yield
        return
    st, gt = fns
    prev = gt()
    if prev <= 1:
        yield
        return
    st(1)
    try:
        yield
    finally:
        st(prev)


def _quiet(xp):
    """NumPy warns when ``exp`` overflows to inf (harmless here: 1 / (1 + inf) = 0)."""
    if xp.__name__ == "numpy":
        return xp.errstate(over="ignore")
    return contextlib.nullcontext()


_LSTM_FWD = r"""
int n = i / u; int j = i - n * u; int b = n * 4 * u;
T zi = z[b + j] + r[b + j], zf = z[b + u + j] + r[b + u + j];
T zg = z[b + 2 * u + j] + r[b + 2 * u + j], zo = z[b + 3 * u + j] + r[b + 3 * u + j];
T ig = 1 / (1 + exp(-zi)), fg = 1 / (1 + exp(-zf)), og = 1 / (1 + exp(-zo));
T gg = tanh(zg);
z[b + j] = ig; z[b + u + j] = fg; z[b + 2 * u + j] = gg; z[b + 3 * u + j] = og;
T c = fg * cprev[i] + ig * gg;
T t = tanh(c);
T h = og * t;
if (has_m && !mk[n]) { c = cprev[i]; h = hprev[i]; }
cnew[i] = c; tc[i] = t; hnew[i] = h;
"""

_LSTM_BWD = r"""
int n = i / u; int j = i - n * u; int b = n * 4 * u;
T dhi = dh[i] + (has_gs ? gs[i] : (T)0);
T mm = (has_m && !mk[n]) ? (T)0 : (T)1;
T dhn = dhi * mm, dcn = dc[i] * mm;
T ig = z[b + j], fg = z[b + u + j], gg = z[b + 2 * u + j], og = z[b + 3 * u + j];
T t = tc[i];
T dct = dcn + dhn * og * (1 - t * t);
dz[b + j] = dct * gg * ig * (1 - ig);
dz[b + u + j] = dct * cprev[i] * fg * (1 - fg);
dz[b + 2 * u + j] = dct * ig * (1 - gg * gg);
dz[b + 3 * u + j] = dhn * t * og * (1 - og);
dc[i] = dct * fg + dc[i] * (1 - mm);
carry[i] = dhi * (1 - mm);
"""


def _lstm_kernels(x):
    """The fused per-step CuPy kernels of the default LSTM (tanh / sigmoid), cached."""
    from gpunet.backend import backend_of

    b = backend_of(x)
    fwd = b.kernel("gpunet_lstm_step_fwd", lambda cp: cp.ElementwiseKernel(
        "raw T r, raw T cprev, raw T hprev, raw bool mk, int32 u, int32 has_m",
        "raw T z, raw T cnew, raw T tc, raw T hnew", _LSTM_FWD, "gpunet_lstm_step_fwd"))
    bwd = b.kernel("gpunet_lstm_step_bwd", lambda cp: cp.ElementwiseKernel(
        "raw T z, raw T cprev, raw T tc, raw T gs, raw bool mk, int32 u, int32 has_gs, "
        "int32 has_m, raw T dh", "raw T dz, raw T dc, raw T carry", _LSTM_BWD,
        "gpunet_lstm_step_bwd"))
    return fwd, bwd


_GRU_FWD = r"""
int n = i / u; int j = i - n * u; int b = n * 3 * u;
T rz = rec[b + j], rr = rec[b + u + j], rh = rec[b + 2 * u + j];
if (has_b) { rz += bh[j]; rr += bh[u + j]; rh += bh[2 * u + j]; }
T zg = 1 / (1 + exp(-(z[b + j] + rz)));
T r = 1 / (1 + exp(-(z[b + u + j] + rr)));
T hh = tanh(z[b + 2 * u + j] + r * rh);
z[b + j] = zg; z[b + u + j] = r; z[b + 2 * u + j] = hh; rhs[i] = rh;
T hp = hprev[i];
T hn = hh + zg * (hp - hh);
if (has_m && !mk[n]) hn = hp;
hnew[i] = hn;
"""

_GRU_BWD = r"""
int n = i / u; int j = i - n * u; int b = n * 3 * u;
T dhi = dh[i] + (has_gs ? gs[i] : (T)0);
T mm = (has_m && !mk[n]) ? (T)0 : (T)1;
T dhn = dhi * mm;
T zg = z[b + j], r = z[b + u + j], hh = z[b + 2 * u + j];
T dzg = dhn * (hprev[i] - hh) * zg * (1 - zg);
T dhh = dhn * (1 - zg) * (1 - hh * hh);
T drr = dhh * rhs[i] * r * (1 - r);
dz[b + j] = dzg; dz[b + u + j] = drr; dz[b + 2 * u + j] = dhh;
dr[b + j] = dzg; dr[b + u + j] = drr; dr[b + 2 * u + j] = dhh * r;
direct[i] = dhn * zg + dhi * (1 - mm);
"""


def _gru_kernels(x):
    """The fused per-step CuPy kernels of the default GRU (reset_after, tanh / sigmoid)."""
    from gpunet.backend import backend_of

    b = backend_of(x)
    fwd = b.kernel("gpunet_gru_step_fwd", lambda cp: cp.ElementwiseKernel(
        "raw T rec, raw T bh, raw T hprev, raw bool mk, int32 u, int32 has_b, int32 has_m",
        "raw T z, raw T rhs, raw T hnew", _GRU_FWD, "gpunet_gru_step_fwd"))
    bwd = b.kernel("gpunet_gru_step_bwd", lambda cp: cp.ElementwiseKernel(
        "raw T z, raw T rhs, raw T hprev, raw T gs, raw bool mk, int32 u, int32 has_gs, "
        "int32 has_m, raw T dh", "raw T dz, raw T dr, raw T direct", _GRU_BWD,
        "gpunet_gru_step_bwd"))
    return fwd, bwd
