"""Weight constraints, applied in place to a variable after each optimizer update."""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of, epsilon
from gpunet.registry import deserialize, register

_KIND = "constraint"


class Constraint:
    """Base class: ``constraint(array)`` returns the projected array (raw backend arrays)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)


def _norms(w, axis):
    xp = backend_of(w).xp
    if isinstance(axis, list):  # Keras configs (JSON) hold e.g. [0, 1, 2] for conv kernels
        axis = tuple(axis)
    return xp.sqrt((w * w).sum(axis=axis, keepdims=True))


@register(_KIND, "max_norm")
class MaxNorm(Constraint):
    """Rescales weights whose norm along ``axis`` exceeds ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis: Any = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        xp = backend_of(w).xp
        n = _norms(w, self.axis)
        return w * (xp.clip(n, 0, self.max_value) / (epsilon() + n))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@register(_KIND, "non_neg")
class NonNeg(Constraint):
    """Zeroes negative weights."""

    def __call__(self, w):
        return w * (w >= 0)


@register(_KIND, "unit_norm")
class UnitNorm(Constraint):
    """Rescales weights to unit norm along ``axis``."""

    def __init__(self, axis: Any = 0) -> None:
        self.axis = axis

    def __call__(self, w):
        return w / (epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


@register(_KIND, "min_max_norm")
class MinMaxNorm(Constraint):
    """Keeps norms along ``axis`` within ``[min_value, max_value]`` (blended by ``rate``)."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: Any = 0) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        xp = backend_of(w).xp
        n = _norms(w, self.axis)
        desired = self.rate * xp.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return w * (desired / (epsilon() + n))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def get(identifier: Any) -> Constraint | None:
    """A constraint from a name, a config dict, an instance or ``None``."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(_KIND, identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret constraint identifier: {identifier!r}")


def serialize(c: Any) -> dict | None:
    """``{"class_name", "config"}`` of a constraint."""
    return None if c is None else {"class_name": type(c).__name__, "config": c.get_config()}
