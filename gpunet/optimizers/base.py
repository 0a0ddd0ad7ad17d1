"""``Optimizer`` base: slots in flat buffers, clipping, weight decay, schedules, constraints."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from gpunet.autograd.flat import FlatGroup, pack
from gpunet.autograd.variable import Variable
from gpunet.registry import register, snake_case

_KIND = "optimizer"


def _positive(name: str, value: Any, allow_zero: bool = True) -> Any:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"Argument `{name}` must be a finite number "
                         f"{'>= 0' if allow_zero else '> 0'}. Received: {name}={value!r}")
    return value


class Optimizer:
    """Base class of optimizers. Subclasses define ``slot_names`` and ``update_group``.

    Every variable the optimizer updates is packed into a flat buffer (per dtype), and each
    slot (momentum, velocity, ...) is one flat array of the same size, so a step is a few
    in-place passes over contiguous memory (one fused kernel on a GPU).

    Args:
        learning_rate: a float or a ``LearningRateSchedule`` / callable of the step.
        weight_decay: decoupled weight decay applied before the update.
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip every gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients jointly to this global L2 norm.
        name: the optimizer's name.
        lr: the Keras 2 spelling of ``learning_rate`` (deprecated, accepted).
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        if "lr" in kwargs:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        if "decay" in kwargs:
            kwargs.pop("decay")
            warnings.warn("The `decay` argument is ignored (Keras 3); use a schedule instead.",
                          stacklevel=3)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: "
                            f"{sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        if not callable(learning_rate) and not hasattr(learning_rate, "get_config"):
            _positive("learning_rate", learning_rate)
        self._learning_rate = learning_rate
        self.weight_decay = _positive("weight_decay", weight_decay)
        self.clipnorm = _positive("clipnorm", clipnorm, False)
        self.clipvalue = _positive("clipvalue", clipvalue, False)
        self.global_clipnorm = _positive("global_clipnorm", global_clipnorm, False)
        self.use_ema, self.ema_momentum = use_ema, ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name or snake_case(type(self).__name__)
        self.iterations = 0
        self._groups: list[FlatGroup] = []
        self._slots: list[dict[str, Any]] = []
        self._tmp: list[Any] = []
        self._key: tuple = ()

    # -- learning rate ----------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if hasattr(lr, "get_config") and callable(lr):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return float(lr)

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self._learning_rate = value

    lr = learning_rate

    # -- building -----------------------------------------------------------------------------
    def build(self, variables: Sequence[Variable]) -> None:
        """Packs ``variables`` into flat buffers (if they are not already) and makes slots."""
        variables = list(variables)
        self._groups = _groups_for(variables)
        self._key = tuple(id(v) for v in variables)
        self._variables = variables
        self._slots, self._tmp = [], []
        for g in self._groups:
            xp = g.backend.xp
            self._slots.append({n: self._init_slot(n, g) for n in self.slot_names})
            self._tmp.append(xp.empty_like(g.data))

    def _init_slot(self, name: str, group: FlatGroup) -> Any:
        return group.backend.xp.zeros_like(group.data)

    @property
    def variables(self) -> list:
        """Optimizer state in Keras 3 order: iteration, then slots per variable."""
        return list(self._variables) if self._groups else []

    # -- stepping -----------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Iterable) -> None:
        """Keras API: applies ``(gradient, variable)`` pairs."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        variables = [v for _, v in pairs]
        if tuple(id(v) for v in variables) != self._key:
            self.build(variables)
        for g, v in pairs:
            g = g.data if hasattr(g, "_gpunet_tensor") else g
            if g is not v.grad:
                v.grad[...] = g
        self.step()

    def apply(self, grads: Sequence, variables: Sequence[Variable]) -> None:
        """Keras 3 API: applies ``grads`` to ``variables``."""
        self.apply_gradients(zip(grads, variables))

    def step(self) -> None:
        """One update of every built variable from its ``grad`` (already in the flat buffer)."""
        lr = self.learning_rate
        t = self.iterations + 1
        for gi, group in enumerate(self._groups):
            self._clip(group)
            if self.weight_decay:
                group.data *= 1.0 - lr * self.weight_decay
            self.update_group(group, self._slots[gi], self._tmp[gi], lr, t)
            for v in group.variables:
                if v.constraint is not None:
                    v.data[...] = v.constraint(v.data)
        self.iterations = t

    def _clip(self, group: FlatGroup) -> None:
        xp = group.backend.xp
        if self.clipvalue is not None:
            xp.clip(group.grad, -self.clipvalue, self.clipvalue, out=group.grad)
        elif self.clipnorm is not None:
            c = self.clipnorm
            for v in group.variables:
                n = xp.sqrt((v.grad * v.grad).sum())
                v.grad *= c / xp.maximum(n, c)
        elif self.global_clipnorm is not None:
            c = self.global_clipnorm
            n = xp.sqrt(sum((g.grad * g.grad).sum() for g in self._groups))
            group.grad *= c / xp.maximum(n, c)

    def update_group(self, group: FlatGroup, slots: dict, tmp: Any, lr: float, t: int) -> None:
        raise NotImplementedError

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        if hasattr(lr, "get_config"):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            from gpunet.registry import deserialize

            config["learning_rate"] = deserialize("schedule", lr, custom_objects)
        config.pop("is_legacy_optimizer", None)
        config.pop("jit_compile", None)
        return cls(**config)

    # -- state for saving ---------------------------------------------------------------------
    def get_slot_arrays(self) -> list[tuple[str, Any]]:
        """``(name, host array)`` for each slot of each variable, in Keras 3 order."""
        from gpunet.backend import backend_of

        out = []
        for gi, group in enumerate(self._groups):
            for v, (a, b) in zip(group.variables, group.spans):
                for n in self.slot_names:
                    arr = self._slots[gi][n][a:b].reshape(v.shape)
                    out.append((f"{self.name}/{v.path.replace('/', '_')}_{n}",
                                backend_of(arr).to_numpy(arr)))
        return out

    def set_slot_arrays(self, arrays: Sequence[Any]) -> None:
        """Restores slots from arrays in the order of ``get_slot_arrays``."""
        arrays = list(arrays)
        expected = sum(len(g.variables) for g in self._groups) * len(self.slot_names)
        if len(arrays) != expected:
            raise ValueError(f"Optimizer '{self.name}' expects {expected} slot arrays; "
                             f"received {len(arrays)}.")
        i = 0
        for gi, group in enumerate(self._groups):
            for v, (a, b) in zip(group.variables, group.spans):
                for n in self.slot_names:
                    src = group.backend.asarray(arrays[i]).reshape(-1)
                    if src.size != b - a:
                        raise ValueError(f"Optimizer slot for '{v.path}' has {src.size} "
                                         f"values; expected {b - a}.")
                    self._slots[gi][n][a:b] = src
                    i += 1


def _groups_for(variables: Sequence[Variable]) -> list[FlatGroup]:
    """Existing flat groups covering exactly ``variables``, else a fresh packing."""
    owners = getattr(variables[0], "_flat_group", None) if variables else None
    groups = []
    seen = set()
    for v in variables:
        g = getattr(v, "_flat_group", None)
        if g is None:
            owners = None
            break
        if id(g) not in seen:
            seen.add(id(g))
            groups.append(g)
    if owners is not None and sum(len(g.variables) for g in groups) == len(variables):
        return groups
    groups = pack(variables)
    for g in groups:
        for v in g.variables:
            v._flat_group = g
    return groups


register(_KIND)(Optimizer)
