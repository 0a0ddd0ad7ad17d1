"""Weight regularizers: penalties added to the training loss once per step."""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.backend import backend_of, epsilon
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


@register(_KIND, "orthogonal_regularizer")
class OrthogonalRegularizer(Regularizer):
    """Encourages the rows (or columns) of a rank-2 weight to be orthogonal to each other.

    With ``n̂`` the L2-normalised rows (``mode="rows"``) or columns (``mode="columns"``),
    ``x / √max(Σx², epsilon())``, and ``P`` their Gram matrix (``n × n``), the penalty is
    ``factor · 0.5 · Σ_{i≠j} |P_ij| / (n(n-1)/2)``: ``factor`` times the mean absolute
    cosine between distinct rows.

    Args:
        factor: the regularization factor, ``>= 0`` (0.01).
        mode: ``"rows"`` or ``"columns"`` (``"rows"``).

    Example:

    >>> layer = gpunet.layers.Dense(4, kernel_regularizer=OrthogonalRegularizer(0.01))
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _check("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        axis = 1 if self.mode == "rows" else 0
        norm = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True),
                                    epsilon()))
        unit = ops.divide(x, norm)
        product = (ops.matmul(unit, ops.transpose(unit)) if axis == 1
                   else ops.matmul(ops.transpose(unit), unit))
        size = x.shape[1 - axis]
        off = 1.0 - backend_of(product.data).xp.eye(size, dtype=product.data.dtype)
        num_pairs = size * (size - 1.0) / 2.0
        return ops.sum(ops.abs(ops.multiply(product, off))) * (self.factor * 0.5 / num_pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


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
