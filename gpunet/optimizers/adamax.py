"""Adamax: Adam with the infinity norm."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import adamax_update
from gpunet.backend.kernels.step_scalars import adamax_alpha
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "adamax")
class Adamax(Optimizer):
    """``m += (1-β1)(g-m)``; ``u = max(β2·u, |g|)``; ``w -= lr·m/((1-β1^t)(u + ε))``.

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment, in ``[0, 1)`` (0.9).
        beta_2: decay of the infinity norm, in ``[0, 1]`` (0.999).
        epsilon: 1e-7.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Adamax(learning_rate=0.002)
    """

    slot_names = ("momentum", "norm")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, name: str = "adamax", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)

    def _prepare(self, t, lr):
        m = self._m
        self._alpha = adamax_alpha(m.backend, lr, t, self.beta_1) if m.kernels else \
            lr / (1 - m.pow(self.beta_1, t))

    def update_group(self, group, slots, scratch, lr, t):
        adamax_update(group.backend, group.data, group.grad, slots["momentum"], slots["norm"],
                      scratch[0], self._alpha, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
