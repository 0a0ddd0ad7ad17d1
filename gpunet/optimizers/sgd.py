"""Stochastic gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import sgd_momentum_update, sgd_update
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "sgd")
class SGD(Optimizer):
    """Gradient descent: ``w -= lr·g``; with momentum ``v = μ·v - lr·g``, ``w += v``
    (Nesterov: ``w += μ·v - lr·g`` with the new ``v``).

    Args:
        learning_rate: default 0.01.
        momentum: in ``[0, 1]``; default 0 (no momentum slot).
        nesterov: use Nesterov momentum.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``,
            ``clipvalue``, ``global_clipnorm``, ``use_ema``, ..., ``name``).

    Example:

    >>> opt = gpunet.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: str = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update_group(self, group, slots, scratch, lr, t):
        if self.momentum:
            sgd_momentum_update(group.backend, group.data, group.grad, slots["momentum"],
                                scratch[0], lr, self.momentum, self.nesterov)
        else:
            sgd_update(group.backend, group.data, group.grad, lr, scratch[0])

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
