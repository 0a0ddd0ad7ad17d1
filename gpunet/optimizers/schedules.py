"""Learning-rate schedules (Keras 3 formulas): a schedule maps the optimizer step to a rate.

Pass one as ``learning_rate``; the optimizer evaluates it at ``iterations`` (0 on the first
update). The built-in schedules also evaluate on a device step counter (a 0-d array of the
variables' backend) with backend operations, so an optimizer on a GPU computes its rate on the
device (see ``gpunet.optimizers.scalars``); a subclass that overrides ``__call__`` runs on the
host.

Example:

>>> lr = gpunet.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
>>> opt = gpunet.optimizers.SGD(learning_rate=lr)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

from gpunet.optimizers.scalars import HOST, math_for
from gpunet.registry import deserialize as _deserialize
from gpunet.registry import register

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
    "PolynomialDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize",
]


def _evaluate(self: LearningRateSchedule, step: Any) -> Any:
    """A built-in schedule at ``step``: a Python float for a host step, a 0-d array of the
    step's backend for a device step counter."""
    if type(step) is int or type(step) is float:  # the host path, first
        return self._value(float(step), HOST)
    m = math_for(step)
    return self._value(float(step) if m is HOST else step, m)


def device_evaluable(schedule: Any) -> bool:
    """Whether ``schedule`` evaluates on a device step counter: a built-in schedule (or a
    subclass keeping its ``__call__``), not a Python callable or a custom ``__call__``."""
    return inspect.getattr_static(type(schedule), "__call__", None) is _evaluate


def _positive_steps(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


@register("schedule")
class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step)`` and ``get_config()``.

    Example:

    >>> class Halving(LearningRateSchedule):
    ...     def __init__(self, lr): self.lr = lr
    ...     def __call__(self, step): return self.lr / 2 ** step
    ...     def get_config(self): return {"lr": self.lr}
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        """Instantiates the schedule from the output of ``get_config()``."""
        return cls(**config)


@register("schedule")
class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate · decay_rate ^ (step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: > 0.
        decay_rate: the factor per ``decay_steps``.
        staircase: floor ``step / decay_steps`` (decay in discrete jumps).
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        _positive_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        p = step / self.decay_steps
        if self.staircase:
            p = m.floor(p)
        return self.initial_learning_rate * m.pow(self.decay_rate, p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


@register("schedule")
class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate · step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: > 0.
        decay_rate: the decay rate.
        staircase: floor ``step / decay_steps``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        _positive_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        p = step / self.decay_steps
        if self.staircase:
            p = m.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


@register("schedule")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries: strictly increasing step numbers.
        values: one more value than boundaries.
        name: the schedule's name.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError("Argument `boundaries` must be strictly increasing. Received: "
                             f"boundaries={boundaries}")
        self.boundaries, self.values, self.name = boundaries, values, name

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        if m is HOST:
            for b, v in zip(self.boundaries, self.values):
                if step <= b:
                    return v
            return self.values[-1]
        out = m.where(step <= self.boundaries[-1], float(self.values[-2]),
                      float(self.values[-1])) if self.boundaries else float(self.values[0])
        for b, v in zip(self.boundaries[-2::-1], self.values[-3::-1]):
            out = m.where(step <= b, float(v), out)
        return out

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@register("schedule")
class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) · (1 - min(step, decay_steps)/decay_steps) ^ power + end``.

    With ``cycle=True`` ``decay_steps`` is first multiplied by ``ceil(step / decay_steps)``
    (1 at step 0), so the decay restarts.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: > 0.
        end_learning_rate: the final rate (0.0001).
        power: the polynomial's power (1.0).
        cycle: restart after ``decay_steps``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        _positive_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power = end_learning_rate, power
        self.cycle, self.name = cycle, name

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        steps = float(self.decay_steps)
        if self.cycle:
            steps = steps * m.where(step == 0, 1.0, m.ceil(step / steps))
        else:
            step = m.minimum(step, steps)
        p = step / steps
        return ((self.initial_learning_rate - self.end_learning_rate)
                * m.pow(1 - p, self.power) + self.end_learning_rate)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


def _cosine(fraction: Any, alpha: float, m: Any) -> Any:
    return (1 - alpha) * 0.5 * (1.0 + m.cos(math.pi * fraction)) + alpha


@register("schedule")
class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup.

    Without ``warmup_target``: ``initial · ((1-alpha)·½(1 + cos(π·min(step, decay_steps)/
    decay_steps)) + alpha)``. With it, the rate first rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then decays from
    ``warmup_target`` over ``decay_steps``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: > 0, the length of the decay.
        alpha: the final rate as a fraction of the decay's starting rate.
        name: the schedule's name.
        warmup_target: the rate reached after warmup (None: no warmup).
        warmup_steps: the length of the warmup.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: float = 0) -> None:
        _positive_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.alpha, self.name = alpha, name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        if self.warmup_target is None:
            step = m.minimum(step, self.decay_steps)
            return self.initial_learning_rate * _cosine(step / self.decay_steps, self.alpha, m)
        step = m.minimum(step, self.decay_steps + self.warmup_steps)
        if m is HOST and step < self.warmup_steps:
            frac = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * frac + \
                self.initial_learning_rate
        frac = (step - self.warmup_steps) / self.decay_steps
        decayed = self.warmup_target * _cosine(frac, self.alpha, m)
        if m is HOST:
            return decayed
        warm = (self.warmup_target - self.initial_learning_rate) * (
            step / (self.warmup_steps or 1)) + self.initial_learning_rate
        return m.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


@register("schedule")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR).

    The multiplier decays from 1 to ``alpha`` over ``first_decay_steps``; each restart runs
    ``t_mul`` times longer and starts from ``m_mul`` times the previous peak.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: > 0, the length of the first period.
        t_mul: period growth factor (2.0).
        m_mul: peak factor per restart (1.0).
        alpha: the minimum as a fraction of ``initial_learning_rate``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: float,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay") -> None:
        _positive_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, \
            first_decay_steps
        self.t_mul, self.m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    __call__ = _evaluate

    def _value(self, step: Any, m: Any) -> Any:
        frac = step / self.first_decay_steps
        t = float(self.t_mul)
        if t == 1.0:
            i = m.floor(frac)
            frac = frac - i
        else:
            i = m.floor(m.log(1.0 - frac * (1.0 - t)) / math.log(t))
            frac = (frac - (1.0 - m.pow(t, i)) / (1.0 - t)) / m.pow(t, i)
        decayed = 0.5 * m.pow(self.m_mul, i) * (1.0 + m.cos(math.pi * frac))
        return self.initial_learning_rate * ((1 - self.alpha) * decayed + self.alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"module", "class_name", "config", "registered_name"}`` of a schedule (Keras 3 form)."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """The schedule described by ``{"class_name", "config"}``."""
    return _deserialize("schedule", config, custom_objects)
