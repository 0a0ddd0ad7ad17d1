"""``Variable``: a trainable (or state) parameter, stored as a view into a flat buffer."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of


class Variable(Tensor):
    """A layer weight. Layers never rebind ``data``: they ``assign`` into it.

    A model packs every variable into one contiguous buffer per dtype (and the gradients
    into a twin buffer), so ``data`` and ``grad`` are views the optimizer updates in place.

    Args:
        data: the initial value (a backend array).
        name: the short name, e.g. ``"kernel"``.
        trainable: whether the optimizer updates it.
        path: the full name, e.g. ``"dense/kernel"``.
    """

    __slots__ = ("trainable", "constraint", "regularizer", "path", "_grad_fresh", "_layer",
                 "_flat_group")

    def __init__(self, data: Any, name: str = "variable", trainable: bool = True,
                 path: str | None = None, constraint: Any = None, regularizer: Any = None) -> None:
        super().__init__(data, requires_grad=trainable, name=name)
        self.trainable = trainable
        self.path = path or name
        self.constraint = constraint
        self.regularizer = regularizer
        self._grad_fresh = True
        self._layer = None
        self._flat_group = None

    def assign(self, value: Any) -> None:
        """Writes ``value`` into the variable in place (shape must match)."""
        if isinstance(value, Tensor):
            value = value.data
        b = backend_of(self.data)
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        if kind == "c" or isinstance(value, complex):
            raise TypeError(f"Cannot assign a complex value to variable '{self.path}' of dtype "
                            f"{self.data.dtype}: the imaginary part would be dropped.")
        value = b.asarray(value, dtype=self.data.dtype)
        if value.shape != self.data.shape:
            raise ValueError(
                f"Cannot assign a value of shape {tuple(value.shape)} to variable "
                f"'{self.path}' of shape {tuple(self.data.shape)}."
            )
        self.data[...] = value

    @property
    def value(self) -> Any:
        return self.data

    def __repr__(self) -> str:
        return f"<Variable path={self.path} shape={tuple(self.shape)} dtype={self.dtype}>"
