"""The fused per-step CUDA kernels of the default LSTM and GRU (one elementwise launch per
time step, forward and backward), described as ``KernelSpec`` data (so the tests can compile
each without a GPU) and built through ``CupyBackend.kernel`` once per backend.

Every array is ``raw`` (indexed by hand from ``i``, one thread per batch row and unit, launched
with ``size=N*u``): the gate blocks ``z``/``r``/``dz`` are ``(N, 4u)`` or ``(N, 3u)``, the states
``(N, u)``, the step's mask row ``mk`` ``(N,)`` and the GRU's recurrent bias ``bh`` ``(3u,)``.
"""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels._spec import define

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


_STEP = {"raw_ndim": 2, "ndims": (("mk", 1),), "group": "layer"}
LSTM_STEP_FWD = define(
    "lstm_step_fwd", "raw T r, raw T cprev, raw T hprev, raw bool mk, int32 u, int32 has_m",
    "raw T z, raw T cnew, raw T tc, raw T hnew", _LSTM_FWD, scalars=("u", "has_m"), **_STEP)
LSTM_STEP_BWD = define(
    "lstm_step_bwd", "raw T z, raw T cprev, raw T tc, raw T gs, raw bool mk, int32 u, "
    "int32 has_gs, int32 has_m, raw T dh", "raw T dz, raw T dc, raw T carry", _LSTM_BWD,
    scalars=("u", "has_gs", "has_m"), **_STEP)


def lstm_step_kernels(b: Any) -> tuple:
    """The fused per-step kernels ``(forward, backward)`` of the default LSTM (tanh /
    sigmoid) on the CuPy backend ``b``."""
    return tuple(b.kernel(s.name, s.build) for s in (LSTM_STEP_FWD, LSTM_STEP_BWD))


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


GRU_STEP_FWD = define(
    "gru_step_fwd", "raw T rec, raw T bh, raw T hprev, raw bool mk, int32 u, int32 has_b, "
    "int32 has_m", "raw T z, raw T rhs, raw T hnew", _GRU_FWD,
    scalars=("u", "has_b", "has_m"), raw_ndim=2, ndims=(("mk", 1), ("bh", 1)), group="layer")
GRU_STEP_BWD = define(
    "gru_step_bwd", "raw T z, raw T rhs, raw T hprev, raw T gs, raw bool mk, int32 u, "
    "int32 has_gs, int32 has_m, raw T dh", "raw T dz, raw T dr, raw T direct", _GRU_BWD,
    scalars=("u", "has_gs", "has_m"), **_STEP)


def gru_step_kernels(b: Any) -> tuple:
    """The fused per-step kernels ``(forward, backward)`` of the default GRU (reset_after,
    tanh / sigmoid) on the CuPy backend ``b``."""
    return tuple(b.kernel(s.name, s.build) for s in (GRU_STEP_FWD, GRU_STEP_BWD))
