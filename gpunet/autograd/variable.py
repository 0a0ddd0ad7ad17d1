"""``Variable``: a trainable (or state) parameter, stored as a view into a flat buffer."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import registry
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of


class Variable(Tensor):
    """A layer weight. Layers never rebind ``data``: they ``assign`` into it.

    A model packs every variable into one contiguous buffer per dtype (and the gradients
    into a twin buffer), so ``data`` and ``grad`` are views the optimizer updates in place.

    Args:
        initializer: the initial value: a backend array (used as it is), a Tensor, a NumPy
            array, list or number (copied to the default backend), or an initializer (a
            callable or a name such as ``"zeros"``) called with ``shape`` and ``dtype``, as
            Keras 3's ``keras.Variable(initializer, shape, dtype)``.
        shape: the shape, needed with an initializer.
        dtype: the dtype (default: the value's, ``floatx()`` for Python floats).
        trainable: whether the optimizer updates it.
        name: the short name, e.g. ``"kernel"``.
        path: the full name, e.g. ``"dense/kernel"``.
        autocast: whether a layer with a mixed dtype policy reads it cast to its compute
            dtype inside ``call`` (Keras 3's argument; default True).

    Example:

    >>> v = Variable(np.zeros(3, "float32"), name="v")
    >>> v.assign_add(np.ones(3)); v.numpy()       # [1., 1., 1.]
    >>> w = gpunet.Variable(initializer="glorot_uniform", shape=(4, 2), name="w")
    """

    __slots__ = ("trainable", "constraint", "regularizer", "path", "_grad_fresh", "_layer",
                 "_flat_group", "_autocast")

    def __init__(self, initializer: Any = None, shape: Any = None, dtype: Any = None,
                 trainable: bool = True, name: str | None = None, path: str | None = None,
                 constraint: Any = None, regularizer: Any = None, autocast: bool = True,
                 data: Any = None) -> None:
        if isinstance(shape, str):  # the older (data, name) order
            shape, name = None, shape
        name = name or "variable"
        data = _initial_value(initializer if data is None else data, shape, dtype, name)
        super().__init__(data, requires_grad=trainable, name=name)
        self.trainable = trainable
        self.path = path or name
        self.constraint = constraint
        self.regularizer = regularizer
        self._grad_fresh = True
        self._layer = None
        self._flat_group = None
        self._autocast = bool(autocast)

    def assign(self, value: Any) -> Variable:
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
        return self

    def assign_add(self, value: Any) -> Variable:
        """Adds ``value`` in place (into the flat-buffer view); returns the variable."""
        self.data += self._operand(value, "assign_add")
        return self

    def assign_sub(self, value: Any) -> Variable:
        """Subtracts ``value`` in place (into the flat-buffer view); returns the variable."""
        self.data -= self._operand(value, "assign_sub")
        return self

    def _operand(self, value: Any, what: str) -> Any:
        if isinstance(value, Tensor):
            value = value.data
        value = backend_of(self.data).asarray(value, dtype=self.data.dtype)
        try:
            ok = np.broadcast_shapes(value.shape, self.data.shape) == self.data.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"Variable '{self.path}'.{what}: a value of shape "
                             f"{tuple(value.shape)} does not fit shape "
                             f"{tuple(self.data.shape)}.")
        return value

    @property
    def value(self) -> Variable:
        """The variable as a tensor (Keras 3's ``variable.value``): ``v.value.grad`` is its
        gradient after ``loss.backward()``, as with the torch backend; ``v.numpy()`` or
        ``v.data`` give the array."""
        return self

    def __repr__(self) -> str:
        """Keras 3's form: ``<Variable path=..., shape=..., dtype=..., value=...>``."""
        try:
            value = f", value={backend_of(self.data).to_numpy(self.data)}"
        except Exception:  # a value that cannot be read: shown without it, as Keras does
            value = ""
        return f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}{value}>"


def _initial_value(value: Any, shape: Any, dtype: Any, name: str) -> Any:
    from gpunet.backend import floatx, get_backend

    if value is None:
        raise ValueError(f"Variable '{name}': pass an initial value or an initializer.")
    if isinstance(value, str) or (callable(value) and not isinstance(value, Tensor)):
        if shape is None:
            raise ValueError(f"Variable '{name}': an initializer needs a `shape`.")
        if isinstance(value, str):  # a registered initializer's name ("zeros", ...)
            value = registry.deserialize("initializer", value)
        value = value(tuple(shape), dtype=dtype or floatx())
    if isinstance(value, Tensor):
        value = value.data.copy()
    is_array = hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value)
    if not is_array:
        host = np.asarray(value)
        if dtype is None and host.dtype == np.float64:
            host = host.astype(floatx())
        value = get_backend().asarray(host)
    if dtype is not None and np.dtype(dtype) != value.dtype:
        value = value.astype(dtype)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"Variable '{name}': the initial value has shape {tuple(value.shape)} "
                         f"but `shape` is {tuple(shape)}.")
    return value
