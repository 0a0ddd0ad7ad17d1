"""Lamb (You et al., 2019): Adam's direction scaled by a per-variable trust ratio."""

from __future__ import annotations

from typing import Any

from gpunet.optimizers.adam import _betas
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "lamb")
class Lamb(Optimizer):
    """Per variable, with ``t = iterations + 1``: ``m += (1-β1)(g-m)``, ``v += (1-β2)(g²-v)``,
    ``u = (m/(1-β1^t)) / (√(v/(1-β2^t)) + ε)``, the trust ratio ``r = ‖w‖/‖u‖`` (1 when
    either norm is 0), then ``w -= r·lr·u``.

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment, in ``[0, 1)`` (0.9).
        beta_2: decay of the second moment, in ``[0, 1)`` (0.999).
        epsilon: 1e-7 (added to the bias-corrected ``√v``).
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Lamb(learning_rate=1e-3)
    """

    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, name: str = "lamb", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = check_range("epsilon", epsilon, 0.0)

    def update_group(self, group, slots, scratch, lr, t):
        xp, m, dtype = group.backend.xp, self._m, group.data.dtype
        m_all, v_all = slots["momentum"], slots["velocity"]
        m_all += (1 - self.beta_1) * (group.grad - m_all)
        v_all += (1 - self.beta_2) * (group.grad * group.grad - v_all)
        c1 = m.cast(1.0 / (1 - m.pow(self.beta_1, t)), dtype)
        c2 = m.cast(1.0 / (1 - m.pow(self.beta_2, t)), dtype)
        lr = m.cast(lr, dtype)
        for a, b in group.spans:
            w = group.data[a:b]
            u = (m_all[a:b] * c1) / (xp.sqrt(v_all[a:b] * c2) + self.epsilon)
            # the trust ratio stays a device scalar: no host read per variable and step
            w_norm, u_norm = xp.sqrt(xp.dot(w, w)), xp.sqrt(xp.dot(u, u))
            ok = (w_norm > 0) & (u_norm > 0)
            ratio = xp.where(ok, w_norm / xp.where(ok, u_norm, 1.0), 1.0)
            w -= (ratio * lr).astype(dtype) * u

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
