"""Adam (Kingma & Ba), with Keras 3's epsilon-hat form and optional AMSGrad."""

from __future__ import annotations

import math
from typing import Any

from gpunet.backend.kernels import adam_update
from gpunet.optimizers.base import Optimizer, _positive, register


@register("optimizer", "adam")
class Adam(Optimizer):
    """Adam: ``m += (1-b1)(g-m)``, ``v += (1-b2)(g²-v)``,
    ``w -= lr·√(1-b2^t)/(1-b1^t) · m/(√v + eps)``.

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment (0.9).
        beta_2: decay of the second moment (0.999).
        epsilon: 1e-7 (Keras's default, not the paper's 1e-8).
        amsgrad: keep the running maximum of ``v``.
        **kwargs: the common optimizer arguments (clipnorm, clipvalue, ...).

    Example:

    >>> model.compile(optimizer=gpunet.optimizers.Adam(1e-3), loss="mse")
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, name: str = "adam",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for n, v in (("beta_1", beta_1), ("beta_2", beta_2)):
            _positive(n, v)
            if v >= 1:
                raise ValueError(f"Argument `{n}` must be in [0, 1). Received: {n}={v}")
        _positive("epsilon", epsilon)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def update_group(self, group, slots, tmp, lr, t):
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        adam_update(group.backend, group.data, group.grad, slots["momentum"], slots["velocity"],
                    tmp, alpha, self.beta_1, self.beta_2, self.epsilon,
                    slots.get("velocity_hat"))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
