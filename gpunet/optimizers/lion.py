"""Lion (Chen et al., 2023): sign of an interpolated momentum."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import lion_update
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "lion")
class Lion(Optimizer):
    """``w -= lr·sign(β1·m + (1-β1)·g)``; ``m = β2·m + (1-β2)·g``.

    Use a learning rate 3-10x smaller than AdamW's (and a larger weight decay).

    Args:
        learning_rate: default 0.001.
        beta_1: in ``(0, 1]`` (0.9).
        beta_2: in ``[0, 1]`` (0.99).
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Lion(learning_rate=1e-4, weight_decay=0.1)
    """

    slot_names = ("momentum",)
    _n_scratch = 2

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 name: str = "lion", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0, low_open=True)
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0)

    def update_group(self, group, slots, scratch, lr, t):
        lion_update(group.backend, group.data, group.grad, slots["momentum"], scratch[0],
                    scratch[1], lr, self.beta_1, self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
