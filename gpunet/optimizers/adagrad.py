"""Adagrad and Adadelta: per-parameter rates from accumulated squared gradients."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import adadelta_update, adagrad_update
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "adagrad")
class Adagrad(Optimizer):
    """``acc += g²``; ``w -= lr·g/√(acc + ε)``, with ``acc`` starting at
    ``initial_accumulator_value``.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: the accumulators' starting value, ``>= 0`` (0.1).
        epsilon: 1e-7, added inside the square root.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Adagrad(learning_rate=0.01)
    """

    slot_names = ("accumulator",)

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float | None = 1e-7, name: str = "adagrad", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = check_range("initial_accumulator_value",
                                                     initial_accumulator_value, 0.0)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)

    def _init_slot(self, name, group):
        return group.backend.xp.full_like(group.data, self.initial_accumulator_value)

    def update_group(self, group, slots, scratch, lr, t):
        adagrad_update(group.backend, group.data, group.grad, slots["accumulator"], scratch[0],
                       lr, self.epsilon)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


@register("optimizer", "adadelta")
class Adadelta(Optimizer):
    """``Eg = ρ·Eg + (1-ρ)·g²``; ``Δ = √(Ex + ε)/√(Eg + ε)·g``; ``Ex = ρ·Ex + (1-ρ)·Δ²``;
    ``w -= lr·Δ``.

    Args:
        learning_rate: default 0.001 (Keras ≤ 2.3 used 1.0).
        rho: the decay rate, in ``[0, 1]`` (0.95).
        epsilon: 1e-7, added inside the square roots.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Adadelta(learning_rate=1.0)
    """

    slot_names = ("accumulated_grad", "accumulated_delta_var")
    _n_scratch = 2

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95,
                 epsilon: float | None = 1e-7, name: str = "adadelta", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)

    def update_group(self, group, slots, scratch, lr, t):
        adadelta_update(group.backend, group.data, group.grad, slots["accumulated_grad"],
                        slots["accumulated_delta_var"], scratch[0], scratch[1], lr, self.rho,
                        self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
