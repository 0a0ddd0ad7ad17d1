"""FTRL-proximal (McMahan et al., 2013) with online L1/L2 and shrinkage L2."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import ftrl_update
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "ftrl")
class Ftrl(Optimizer):
    """Per element, with ``P = learning_rate_power``, ``n`` (``accumulator``, starting at
    ``initial_accumulator_value``) and ``z`` (``linear``): ``n' = n + g²``;
    ``z += g + 2·l2_shrinkage·w - (n'^-P - n^-P)/lr·w``;
    ``w = (clip(z, -l1, l1) - z)/(n'^-P/lr + 2·(l2 + beta/(2·lr)))``; ``n = n'``.

    Args:
        learning_rate: default 0.001.
        learning_rate_power: ``<= 0`` (-0.5); 0 keeps the rate fixed.
        initial_accumulator_value: ``>= 0`` (0.1).
        l1_regularization_strength: ``>= 0`` (0.0).
        l2_regularization_strength: ``>= 0`` (0.0), the stabilisation penalty.
        l2_shrinkage_regularization_strength: ``>= 0`` (0.0), the magnitude penalty.
        beta: ``>= 0`` (0.0), the paper's β.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Ftrl(0.1, l1_regularization_strength=0.01)
    """

    slot_names = ("accumulator", "linear")
    _n_scratch = 2

    def __init__(self, learning_rate: Any = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 name: str = "ftrl", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.learning_rate_power = check_range("learning_rate_power", learning_rate_power,
                                               None, 0.0)
        self.initial_accumulator_value = check_range("initial_accumulator_value",
                                                     initial_accumulator_value, 0.0)
        self.l1_regularization_strength = check_range("l1_regularization_strength",
                                                      l1_regularization_strength, 0.0)
        self.l2_regularization_strength = check_range("l2_regularization_strength",
                                                      l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = check_range(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0.0)
        self.beta = check_range("beta", beta, 0.0)

    def _init_slot(self, name, group):
        if name == "accumulator":
            return group.backend.xp.full_like(group.data, self.initial_accumulator_value)
        return super()._init_slot(name, group)

    def update_group(self, group, slots, scratch, lr, t):
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        ftrl_update(group.backend, group.data, group.grad, slots["accumulator"], slots["linear"],
                    scratch[0], scratch[1], lr, -self.learning_rate_power,
                    self.l1_regularization_strength, l2,
                    self.l2_shrinkage_regularization_strength)

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
