"""``LossScaleOptimizer``: Keras 3's dynamic loss scaling around another optimizer."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.kernels.step_scalars import loss_scale_update, loss_unscale
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
        self._scale, self._counter = scale, 0  # host mode; device mode: _on_device
        self._on_device: tuple | None = None   # (DeviceState of the inner, scale, counter)

    def __getattr__(self, name: str) -> Any:
        # flat groups, slots, variables... live in the inner optimizer
        if name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)

    # -- the scale and counter: Python numbers, or device scalars beside the inner's -----------
    def _device(self) -> tuple | None:
        """``(state, scale, counter)`` when the inner optimizer is in device mode (the scale a
        0-d float64 array, the counter 0-d int64), else None; follows the inner's mode."""
        d = self.inner_optimizer._dev
        on = self._on_device
        if on is not None and on[0] is d:
            return on
        if on is not None:  # the inner was rebuilt or changed mode: carry the values over
            self._scale, self._counter = float(on[0].m.read(on[1])), int(on[0].m.read(on[2]))
        self._on_device = None if d is None else (
            d, d.m.scalar(self._scale, "float64"), d.m.scalar(self._counter, "int64"))
        return self._on_device

    @property
    def dynamic_scale(self) -> float:
        """The current loss scale (a host read of the device scalar in device mode)."""
        on = self._device()
        return self._scale if on is None else float(on[0].m.read(on[1]))

    @dynamic_scale.setter
    def dynamic_scale(self, value: float) -> None:
        on = self._device()
        if on is None:
            self._scale = float(value)
        else:
            on[1][...] = float(value)

    @property
    def step_counter(self) -> int:
        """Good steps since the scale last changed (a host read in device mode)."""
        on = self._device()
        return self._counter if on is None else int(on[0].m.read(on[2]))

    @step_counter.setter
    def step_counter(self, value: int) -> None:
        on = self._device()
        if on is None:
            self._counter = int(value)
        else:
            on[2][...] = int(value)

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
    def device_scalars(self) -> bool | None:
        """As the inner optimizer's (the scale and counter follow its mode)."""
        return self.inner_optimizer.device_scalars

    @device_scalars.setter
    def device_scalars(self, value: bool | None) -> None:
        self.inner_optimizer.device_scalars = value

    @property
    def host_step_reason(self) -> str | None:
        return self.inner_optimizer.host_step_reason

    @property
    def device_resident(self) -> bool:
        return self.inner_optimizer.device_resident

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
            self._counter = 0
            self._scale /= 2.0
        elif self._counter == self.dynamic_growth_steps - 1:
            self._counter = 0
            self._scale *= 2.0
        else:
            self._counter += 1

    def step(self) -> None:
        """Skips (non-finite gradients) or unscales and runs the inner step, then updates the
        scale; the gradients are the ones already in the flat buffers. In device mode the
        finite flag, the scale and the counter stay on the device: the inner step runs masked
        by the flag (weights, slots and the inner ``iterations`` kept where it is False)."""
        inner = self.inner_optimizer
        if not inner.built:
            raise ValueError(f"Optimizer '{self.name}' has not been built: call "
                             "`optimizer.build(variables)` or `apply_gradients` first.")
        on = self._device()
        if on is not None:
            self._device_step(*on)
            return
        finite = self._finite([g.grad for g in inner._groups])
        if finite:
            for g in inner._groups:
                g.grad /= self._scale
            inner.step()
        self._after(finite)

    def _device_step(self, d: Any, scale: Any, counter: Any) -> None:
        inner, xp, m = self.inner_optimizer, d.b.xp, d.m
        ok = None
        for g in inner._groups:
            f = xp.isfinite(g.grad).all()
            ok = f if ok is None else ok & f
        if m.kernels:  # on a GPU: one launch per group, then one for the scale
            for g in inner._groups:
                loss_unscale(d.b, g.grad, scale)
            inner.masked_step(ok)
            loss_scale_update(d.b, ok, scale, counter, self.dynamic_growth_steps)
            return
        for g in inner._groups:
            g.grad /= m.cast(scale, g.grad.dtype)
        inner.masked_step(ok)
        grow = ok & (counter == self.dynamic_growth_steps - 1)
        xp.copyto(scale, xp.where(ok, xp.where(grow, scale * 2.0, scale), scale / 2.0))
        xp.copyto(counter, xp.where(ok & ~grow, counter + 1, 0))

    def apply_gradients(self, grads_and_vars) -> int:
        """Keras API: ``(scaled gradient, variable)`` pairs; returns ``iterations`` (a host
        read in device mode; ``apply`` returns nothing and reads nothing)."""
        self._apply_gradients(grads_and_vars)
        return self.iterations

    def _apply_gradients(self, grads_and_vars) -> None:
        pairs = list(grads_and_vars)
        inner = self.inner_optimizer
        given = [v for g, v in pairs if g is not None]
        if not inner.built and given:
            inner.build(given)
        if self._device() is not None:  # the step decides on the device
            frozen = inner._load_gradients(pairs)
            self.step()
            inner._restore_frozen(frozen)
            return
        arrays = [g.data if getattr(g, "_gpunet_tensor", False) else g
                  for g, _ in pairs if g is not None]
        finite = self._finite(arrays)
        if finite:
            s = self._scale
            inner._apply_gradients(
                [(None if g is None else (g.data if getattr(g, "_gpunet_tensor", False)
                                          else g) / s, v) for g, v in pairs])
        self._after(finite)

    def apply(self, grads, trainable_variables=None) -> None:
        if trainable_variables is None:
            trainable_variables = self.inner_optimizer.variables
        self._apply_gradients(zip(grads, trainable_variables))

    def scale_loss(self, loss: Any) -> Any:
        """``loss · dynamic_scale`` (the device scalar in device mode: no host read)."""
        on = self._device() if self.inner_optimizer.built else None
        if on is None:
            return loss * self._scale
        dtype = getattr(loss.data if getattr(loss, "_gpunet_tensor", False) else loss, "dtype",
                        None)
        return loss * (on[1] if dtype is None else on[0].m.cast(on[1], dtype))

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
