"""Weight regularizers: penalties added to the training loss once per step."""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.registry import deserialize, register

_KIND = "regularizer"


class Regularizer:
    """Base class: ``reg(weight_tensor)`` returns a scalar penalty Tensor."""

    def __call__(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)


def _check(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0 or value != value or value == float("inf"):
        raise ValueError(
            f"Argument `{name}` must be a finite number >= 0. Received: {name}={value}")
    return value


@register(_KIND, "l1_l2")
class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``.

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, x):
        total = None
        if self.l1:
            total = ops.sum(ops.abs(x)) * self.l1
        if self.l2:
            t = ops.sum(ops.square(x)) * self.l2
            total = t if total is None else total + t
        return total if total is not None else ops.sum(x) * 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@register(_KIND, "l1")
class L1(L1L2):
    """``l1 * sum(|x|)`` (default ``l1=0.01``)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


@register(_KIND, "l2")
class L2(L1L2):
    """``l2 * sum(x**2)`` (default ``l2=0.01``)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:  # noqa: D103 - Keras function spelling
    return L1(l1)


def l2(l2: float = 0.01) -> L2:  # noqa: D103
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Keras 2's function: both factors default to 0.01 (the class defaults to 0)."""
    return L1L2(l1, l2)


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from a name, a config dict, an instance or ``None``."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier == "l1_l2":
        return l1_l2()
    if isinstance(identifier, (str, dict)):
        return deserialize(_KIND, identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret regularizer identifier: {identifier!r}")


def serialize(reg: Any) -> dict | None:
    """``{"class_name", "config"}`` of a regularizer."""
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}
