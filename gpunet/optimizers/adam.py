"""Adam (Kingma & Ba) with Keras 3's ε-hat form and optional AMSGrad; AdamW."""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels import adam_update
from gpunet.backend.kernels.adam import adam_backup_kernel_on, adam_backup_supported
from gpunet.backend.kernels.step_scalars import adam_alpha
from gpunet.optimizers.base import Optimizer, check_range, register


def _betas(beta_1: float, beta_2: float) -> tuple[float, float]:
    return (check_range("beta_1", beta_1, 0.0, 1.0, high_open=True),
            check_range("beta_2", beta_2, 0.0, 1.0, high_open=True))


@register("optimizer", "adam")
class Adam(Optimizer):
    """``m += (1-β1)(g-m)``, ``v += (1-β2)(g²-v)``, ``w -= lr·√(1-β2^t)/(1-β1^t)·m/(√v + ε)``.

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment, in ``[0, 1)`` (0.9).
        beta_2: decay of the second moment, in ``[0, 1)`` (0.999).
        epsilon: 1e-7 (Keras's ε-hat, added after the bias correction).
        amsgrad: use the running maximum of ``v`` (slot ``velocity_hat``).
        **kwargs: the common optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:

    >>> model.compile(optimizer=gpunet.optimizers.Adam(1e-3), loss="mse")
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, amsgrad: bool = False, name: str = "adam",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = _betas(beta_1, beta_2)
        self.epsilon = check_range("epsilon", 1e-7 if epsilon is None else epsilon, 0.0)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def _prepare(self, t, lr):
        m = self._m
        if m.kernels:  # on a GPU: one launch
            self._alpha = adam_alpha(m.backend, lr, t, self.beta_1, self.beta_2)
        else:
            self._alpha = lr * m.sqrt(1 - m.pow(self.beta_2, t)) / (1 - m.pow(self.beta_1, t))

    def update_group(self, group, slots, scratch, lr, t):
        backups = self.guard_backups
        backup = None if backups is None else backups.get(id(group.data))
        if adam_update(group.backend, group.data, group.grad, slots["momentum"],
                       slots["velocity"], scratch[0], self._alpha, self.beta_1, self.beta_2,
                       self.epsilon, slots.get("velocity_hat"), backup):
            self.guard_bad = True

    _backup_layout: tuple = (None, False)  # (the groups it was decided for, the answer)

    def supports_weight_backup(self) -> bool:
        # the fused Numba update (``adam_update``'s ``backup``), for Adam's own update only
        groups = self._groups
        if (self.amsgrad or type(self).update_group is not Adam.update_group or not groups
                or not self._plain_step()):
            return False
        key = (id(groups), len(groups))
        seen, ok = self._backup_layout
        if seen != key:  # dtypes and layouts: decided once per set of groups
            ok = all(adam_backup_supported(g.backend, g.data, g.grad, s["momentum"],
                                           s["velocity"])
                     for g, s in zip(groups, self._slots))
            self._backup_layout = (key, ok)
        return ok and adam_backup_kernel_on(groups[0].data.dtype)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


@register("optimizer", "adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= lr·weight_decay·w`` before each update.

    Args:
        learning_rate: default 0.001.
        weight_decay: default 0.004 (required; ``exclude_from_weight_decay`` exempts
            variables).
        beta_1, beta_2, epsilon, amsgrad: as ``Adam``.
        **kwargs: the common optimizer arguments.

    Example:

    >>> opt = gpunet.optimizers.AdamW(1e-3, weight_decay=0.01)
    >>> opt.exclude_from_weight_decay(var_names=["bias"])
    """

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float | None = 1e-7,
                 amsgrad: bool = False, name: str = "adamw", **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name, weight_decay=weight_decay,
                         **kwargs)
