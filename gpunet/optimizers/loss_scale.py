"""``LossScaleOptimizer``: Keras 3's dynamic loss scaling around another optimizer."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.optimizers.base import Optimizer, register

_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                  "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}


@register("optimizer")
class LossScaleOptimizer(Optimizer):
    """Wraps an optimizer with dynamic loss scaling (against float16 gradient underflow).

    ``scale_loss(loss)`` multiplies the loss by the current scale (``model.fit`` does this);
    each step then checks the (scaled) gradients: if any is NaN or infinite, the step is
    skipped (weights, slots and ``iterations`` unchanged), the scale is halved and the good-step
    counter reset; otherwise the gradients are divided by the scale and the inner optimizer
    steps, and after ``dynamic_growth_steps`` good steps in a row the scale is doubled.

    Args:
        inner_optimizer: the ``Optimizer`` to wrap (its own ``loss_scale_factor`` is cleared).
        initial_scale: the first loss scale (``2**15``).
        dynamic_growth_steps: good steps between doublings of the scale (2000).
        name: the optimizer's name.

    Example:

    >>> opt = gpunet.optimizers.LossScaleOptimizer(gpunet.optimizers.Adam(1e-3))
    >>> model.compile(optimizer=opt, loss="mse")
    """

    def __init__(self, inner_optimizer: Optimizer, initial_scale: float = 2.0 ** 15,
                 dynamic_growth_steps: int = 2000, name: str | None = None,
                 **kwargs: Any) -> None:
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, "
                             "set `loss_scale_factor` directly on the `inner_optimizer`.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set "
                                 f"`{arg}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: {sorted(kwargs)}")
        if isinstance(inner_optimizer, dict):
            from gpunet.registry import deserialize

            inner_optimizer = deserialize("optimizer", inner_optimizer)
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("Argument `inner_optimizer` must be an Optimizer instance. "
                            f"Received: inner_optimizer={inner_optimizer!r}")
        scale = float(initial_scale)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError("Argument `initial_scale` must be a finite number > 0. "
                             f"Received: initial_scale={initial_scale!r}")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(
                dynamic_growth_steps, (int, np.integer)) or dynamic_growth_steps < 1:
            raise ValueError("Argument `dynamic_growth_steps` must be an integer >= 1. "
                             f"Received: dynamic_growth_steps={dynamic_growth_steps!r}")
        self.inner_optimizer = inner_optimizer
        inner_optimizer.loss_scale_factor = None  # else the gradients are unscaled twice
        self.name = name or "loss_scale_optimizer"
        self.initial_scale = scale
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = scale
        self.step_counter = 0

    def __getattr__(self, name: str) -> Any:
        # flat groups, slots, variables... live in the inner optimizer
        if name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)

    # -- delegated properties -----------------------------------------------------------------
    @property
    def loss_scale_factor(self) -> float:
        """The current dynamic scale (what ``scale_loss`` multiplies the loss by)."""
        return self.dynamic_scale

    @property
    def learning_rate(self) -> float:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self) -> int:
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self.inner_optimizer.iterations = value

    @property
    def variables(self) -> list:
        return self.inner_optimizer.variables

    @property
    def built(self) -> bool:
        return self.inner_optimizer.built

    def build(self, variables) -> None:
        self.inner_optimizer.build(variables)

    # -- stepping -----------------------------------------------------------------------------
    def _finite(self, arrays) -> bool:
        return all(bool(self._xp(a).isfinite(a).all()) for a in arrays)  # one sync each

    @staticmethod
    def _xp(a):
        from gpunet.backend import backend_of

        return backend_of(a).xp

    def _after(self, finite: bool) -> None:
        if not finite:
            self.step_counter = 0
            self.dynamic_scale /= 2.0
        elif self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter = 0
            self.dynamic_scale *= 2.0
        else:
            self.step_counter += 1

    def step(self) -> None:
        """Skips (non-finite gradients) or unscales and runs the inner step, then updates the
        scale; the gradients are the ones already in the flat buffers."""
        inner = self.inner_optimizer
        if not inner.built:
            raise ValueError(f"Optimizer '{self.name}' has not been built: call "
                             "`optimizer.build(variables)` or `apply_gradients` first.")
        finite = self._finite([g.grad for g in inner._groups])
        if finite:
            for g in inner._groups:
                g.grad *= 1.0 / self.dynamic_scale
            inner.step()
        self._after(finite)

    def apply_gradients(self, grads_and_vars) -> int:
        """Keras API: ``(scaled gradient, variable)`` pairs; returns ``iterations``."""
        pairs = list(grads_and_vars)
        arrays = [g.data if getattr(g, "_gpunet_tensor", False) else g
                  for g, _ in pairs if g is not None]
        finite = self._finite(arrays)
        if finite:
            s = self.dynamic_scale
            self.inner_optimizer.apply_gradients(
                [(None if g is None else (g.data if getattr(g, "_gpunet_tensor", False)
                                          else g) / s, v) for g, v in pairs])
        elif not self.inner_optimizer.built:
            self.inner_optimizer.build([v for g, v in pairs if g is not None])
        self._after(finite)
        return self.iterations

    def apply(self, grads, trainable_variables=None) -> None:
        if trainable_variables is None:
            trainable_variables = self.inner_optimizer.variables
        self.apply_gradients(zip(grads, trainable_variables))

    def scale_loss(self, loss: Any) -> Any:
        """``loss · dynamic_scale``."""
        return loss * self.dynamic_scale

    def finalize_variable_values(self, variables=None) -> None:
        self.inner_optimizer.finalize_variable_values(variables)

    # -- state and config ---------------------------------------------------------------------
    def get_slot_arrays(self) -> list[tuple[str, Any]]:
        """``step_counter`` and ``dynamic_scale`` (Keras order), then the inner state."""
        return [(f"{self.name}/step_counter", np.array(self.step_counter, np.int64)),
                (f"{self.name}/dynamic_scale", np.array(self.dynamic_scale, np.float32))] + \
            self.inner_optimizer.get_slot_arrays()

    def set_slot_arrays(self, arrays) -> None:
        arrays = list(arrays)
        if len(arrays) < 2:
            raise ValueError(f"Optimizer '{self.name}' expects at least 2 state arrays; "
                             f"received {len(arrays)}.")
        self.inner_optimizer.set_slot_arrays(arrays[2:])
        self.step_counter = int(np.asarray(arrays[0]))
        self.dynamic_scale = float(np.asarray(arrays[1]))

    def get_config(self) -> dict:
        return {"name": self.name,
                "inner_optimizer": {"class_name": type(self.inner_optimizer).__name__,
                                    "config": self.inner_optimizer.get_config()},
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            from gpunet.optimizers import deserialize

            inner = deserialize(inner, custom_objects)
        return cls(inner, **config)
