"""Stochastic gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import sgd_momentum_update, sgd_update
from gpunet.optimizers.base import Optimizer, _positive, register


@register("optimizer", "sgd")
class SGD(Optimizer):
    """Gradient descent: ``w -= lr * g``, or with momentum ``v = m*v - lr*g; w += v``.

    Args:
        learning_rate: default 0.01.
        momentum: in ``[0, 1)``; default 0.
        nesterov: use Nesterov momentum.
        **kwargs: the common optimizer arguments (clipnorm, clipvalue, ...).

    Example:

    >>> opt = gpunet.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: str = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        _positive("momentum", momentum)
        if momentum >= 1:
            raise ValueError(f"Argument `momentum` must be in [0, 1). Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update_group(self, group, slots, tmp, lr, t):
        if self.momentum:
            sgd_momentum_update(group.backend, group.data, group.grad, slots["momentum"], tmp,
                                lr, self.momentum, self.nesterov)
        else:
            sgd_update(group.backend, group.data, group.grad, lr)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
