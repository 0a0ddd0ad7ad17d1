"""RMSprop: gradients divided by a running root mean square (ε inside the root)."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import rmsprop_update
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "rmsprop")
class RMSprop(Optimizer):
    """``a = ρ·a + (1-ρ)·g²``; ``Δ = lr·g/√(a + ε)`` (centered: ``√(a - ḡ² + ε)`` with
    ``ḡ = ρ·ḡ + (1-ρ)·g``); ``w -= Δ``, or with momentum ``mom = μ·mom + Δ``, ``w -= mom``.

    Args:
        learning_rate: default 0.001.
        rho: discounting factor of the squared-gradient average, in ``[0, 1]`` (0.9).
        momentum: in ``[0, 1]`` (0.0).
        epsilon: 1e-7, added inside the square root.
        centered: normalise by the estimated variance instead of the second moment.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Slots per variable: ``velocity`` [, ``momentum``] [, ``average_gradient``].

    Example:

    >>> model.compile(optimizer=gpunet.optimizers.RMSprop(1e-3, centered=True), loss="mse")
    """

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float | None = 1e-7, centered: bool = False, name: str = "rmsprop",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)
        self.centered = bool(centered)
        self.slot_names = (("velocity",) + (("momentum",) if self.momentum > 0 else ())
                           + (("average_gradient",) if self.centered else ()))

    def update_group(self, group, slots, scratch, lr, t):
        rmsprop_update(group.backend, group.data, group.grad, slots["velocity"], scratch[0], lr,
                       self.rho, self.epsilon, self.momentum, slots.get("momentum"),
                       slots.get("average_gradient"))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
