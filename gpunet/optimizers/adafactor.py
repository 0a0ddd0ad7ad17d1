"""Adafactor (Shazeer & Stern, 2018) with Keras 3's update: factored second moments for
variables of rank 2 or more, update clipping and the relative step size."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.optimizers.base import Optimizer, check_range, register


def _rms(xp, x):
    return xp.sqrt(xp.mean(x * x))


@register("optimizer", "adafactor")
class Adafactor(Optimizer):
    """Adafactor as in Keras 3, per variable with ``t = iterations + 1``:

    ``ρ = min(lr, 1/√t)``, ``α = max(ε2, rms(w))·ρ``, ``β2 = 1 - t^beta_2_decay``,
    ``G = g² + ε1``. For rank ≥ 2: ``r = β2·r + (1-β2)·mean(G, -1)``,
    ``c = β2·c + (1-β2)·mean(G, -2)``, ``v = (r / mean(r, -1))[..., None] · c[..., None, :]``;
    otherwise ``v = β2·v + (1-β2)·G``. Then ``u = g/√v``,
    ``w -= α·u / max(1, rms(u)/clip_threshold)``.

    Args:
        learning_rate: default 0.001.
        beta_2_decay: the exponent of the ``β2`` schedule (-0.8).
        epsilon_1: added to ``g²`` (1e-30).
        epsilon_2: floor of the weights' RMS in the step size (1e-3).
        clip_threshold: the update RMS above which the update is scaled down (1.0).
        relative_step: cap a constant learning rate at ``1/√t`` (True). Keras 3 caps ``ρ``
            at ``1/√t`` in every case, so this changes nothing numerically.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    State (``get_slot_arrays``): per variable ``r``, ``c`` (scalar zeros for rank < 2, as in
    Keras) and ``velocity``.

    Example:

    >>> opt = gpunet.optimizers.Adafactor(learning_rate=0.01)
    """

    slot_names = ("velocity",)

    def __init__(self, learning_rate: Any = 0.001, beta_2_decay: float = -0.8,
                 epsilon_1: float = 1e-30, epsilon_2: float = 1e-3, clip_threshold: float = 1.0,
                 relative_step: bool = True, name: str = "adafactor", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_2_decay = check_range("beta_2_decay", beta_2_decay, None, 0.0)
        self.epsilon_1 = check_range("epsilon_1", epsilon_1, 0.0)
        self.epsilon_2 = check_range("epsilon_2", epsilon_2, 0.0)
        self.clip_threshold = check_range("clip_threshold", clip_threshold, 0.0, low_open=True)
        self.relative_step = bool(relative_step)

    def build(self, variables):
        super().build(variables)
        self._factors = []  # per variable in ``_index`` order: (r, c) or None
        for v, gi, _a, _b in self._index:
            xp, dtype = self._groups[gi].backend.xp, self._groups[gi].data.dtype
            shape = tuple(v.shape)
            self._factors.append((xp.zeros(shape[:-1], dtype), xp.zeros(shape[:-2] + shape[-1:],
                                                                         dtype))
                                 if len(shape) >= 2 else None)

    def _extra_state(self):
        return [a for f in getattr(self, "_factors", ()) if f is not None for a in f]

    def _apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        given = {id(v) for g, v in pairs if g is not None}
        kept = [(k, f[0].copy(), f[1].copy()) for k, f in enumerate(getattr(self, "_factors", ()))
                if f is not None and id(self._index[k][0]) not in given]
        super()._apply_gradients(pairs)
        for k, r, c in kept:  # variables without a gradient keep their factored statistics
            if k < len(self._factors) and self._factors[k] is not None:
                self._factors[k][0][...] = r
                self._factors[k][1][...] = c

    def update_group(self, group, slots, scratch, lr, t):
        xp, m, dtype = group.backend.xp, self._m, group.data.dtype
        rho = m.cast(m.minimum(lr, 1.0 / m.sqrt(t)), dtype)
        beta = 1.0 - m.pow(t, self.beta_2_decay)
        beta, keep = m.cast(beta, dtype), m.cast(1 - beta, dtype)
        gi = self._groups.index(group)
        for k, (var, vgi, a, b) in enumerate(self._index):
            if vgi != gi:
                continue
            shape = tuple(var.shape)
            w = group.data[a:b]
            g = group.grad[a:b].reshape(shape)
            # alpha and the clipping divisor stay device scalars (no host read per variable)
            alpha = xp.maximum(self.epsilon_2, _rms(xp, w)) * rho
            sq = g * g + self.epsilon_1
            vel = slots["velocity"][a:b].reshape(shape)
            factors = self._factors[k]
            if factors is not None:
                r, c = factors
                r[...] = beta * r + keep * sq.mean(axis=-1)
                c[...] = beta * c + keep * sq.mean(axis=-2)
                vel[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                vel[...] = beta * vel + keep * sq
            u = g / xp.sqrt(vel)
            u /= xp.maximum(1.0, _rms(xp, u) / self.clip_threshold)
            w -= (alpha * u).reshape(-1).astype(w.dtype, copy=False)

    def get_slot_arrays(self):
        base = super().get_slot_arrays()
        if not self._groups:
            return base
        n_base = len(self._base_slot_names) * len(self._index)
        out = base[:n_base]
        vel = base[n_base:n_base + len(self._index)]
        for (var, gi, _a, _b), f, v in zip(self._index, self._factors, vel):
            to_np = self._groups[gi].backend.to_numpy
            prefix = f"{self.name}/{var.path.replace('/', '_')}"
            r, c = (np.zeros((), self._groups[gi].data.dtype),) * 2 if f is None else \
                (to_np(f[0]).copy(), to_np(f[1]).copy())
            out += [(prefix + "_r", r), (prefix + "_c", c), v]
        return out

    def set_slot_arrays(self, arrays):
        arrays = list(arrays)
        if not self._groups:
            return super().set_slot_arrays(arrays)
        n_base, n = len(self._base_slot_names) * len(self._index), len(self._index)
        if len(arrays) != n_base + 3 * n:
            raise ValueError(f"Optimizer '{self.name}' expects {n_base + 3 * n} state arrays; "
                             f"received {len(arrays)}.")
        own = arrays[n_base:]
        super().set_slot_arrays(arrays[:n_base] + own[2::3])
        for k, (_var, gi, _a, _b) in enumerate(self._index):
            f = self._factors[k]
            if f is not None:
                for dst, src in zip(f, own[3 * k:3 * k + 2]):
                    dst[...] = self._groups[gi].backend.asarray(np.asarray(src)).reshape(
                        dst.shape)

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}
