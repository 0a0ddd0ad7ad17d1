"""Nadam: Adam with Nesterov momentum and Keras's 0.96 momentum schedule."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import nadam_update
from gpunet.backend.kernels.step_scalars import nadam_coefficients
from gpunet.optimizers.adam import _betas
from gpunet.optimizers.base import Optimizer, check_range, register


@register("optimizer", "nadam")
class Nadam(Optimizer):
    """With ``μ_t = β1(1 - ½·0.96^t)`` and the running product ``Π_t = Π_{t-1}·μ_t``
    (state ``u_product``, saved with the slots): Adam's ``m`` and ``v``, then
    ``m̂ = μ_{t+1}·m/(1 - Π_t·μ_{t+1}) + (1-μ_t)·g/(1 - Π_t)``, ``v̂ = v/(1-β2^t)``,
    ``w -= lr·m̂/(√v̂ + ε)``.

    Args:
        learning_rate: default 0.001.
        beta_1: in ``[0, 1)`` (0.9).
        beta_2: in ``[0, 1)`` (0.999).
        epsilon: 1e-7.
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> opt = gpunet.optimizers.Nadam(learning_rate=0.002)
    """

    slot_names = ("momentum", "velocity")
    _n_scratch = 2

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, name: str = "nadam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)

    def _init_scalars(self):
        return {"u_product": 1.0}

    def _mu(self, t: Any) -> Any:
        return self.beta_1 * (1.0 - 0.5 * self._m.pow(0.96, t))

    def _prepare(self, t, lr):
        m = self._m
        if m.kernels:  # on a GPU: u_product and the coefficients in one launch
            self._coefficients = nadam_coefficients(m.backend, self._scalars["u_product"], t,
                                                    self.beta_1, self.beta_2)
            return
        u_t, u_next = self._mu(t), self._mu(t + 1)
        if self._dev is None:
            self._scalars["u_product"] *= u_t
        else:  # a device scalar, updated in place
            prod = self._scalars["u_product"]
            self._dev.b.xp.copyto(prod, prod * u_t)
        prod = self._scalars["u_product"]
        # the step's coefficients, shared by every group
        self._coefficients = (u_next / (1.0 - prod * u_next), (1.0 - u_t) / (1.0 - prod),
                              1.0 / (1.0 - self._m.pow(self.beta_2, t)))

    def update_group(self, group, slots, scratch, lr, t):
        c1, c2, vs = self._coefficients
        nadam_update(group.backend, group.data, group.grad, slots["momentum"], slots["velocity"],
                     scratch[0], scratch[1], lr, self.beta_1, self.beta_2, self.epsilon, c1, c2,
                     vs)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
