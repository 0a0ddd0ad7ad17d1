"""``KerasTensor``: the symbolic tensor of the Functional API, with Keras 3's operators.

Every Python operator Keras 3's ``KerasTensor`` supports records the same op here (as an
``OpLambda`` layer naming the ``gpunet.ops`` function): arithmetic (``+ - * / // % ** @``,
unary ``-`` and ``abs``), comparisons (``< <= > >= !=``; ``==`` stays Python's identity test,
as in Keras, so KerasTensors can be dict keys), the logical ``& | ^ ~`` (Keras maps them to
``logical_and`` / ``logical_or`` / ``logical_xor`` / ``logical_not``, also on integers),
``round(x, n)``, ``x[...]``, ``x.reshape(shape)`` and ``x.squeeze(axis)``. Converting one to a
number, an array or a bool raises, as Keras's does: it holds no values.
"""

from __future__ import annotations

from typing import Any

_SYMBOLIC = ("A KerasTensor is symbolic: it's a placeholder for a shape and a dtype. It "
             "doesn't have any actual numerical value. You cannot convert it to {}.")


def _op(name: str, reverse: bool = False, merge: str | None = None):
    def method(self, other):
        return self._binary(other, name, merge, reverse)

    method.__doc__ = f"Records ``gpunet.ops.{name}`` ({'reflected' if reverse else 'as Keras 3'})."
    return method


class KerasTensor:
    """A symbolic tensor: a shape (batch axis first, ``None`` where unknown), a dtype, a name,
    and the history ``(layer, node_index, tensor_index)`` of the layer call that made it.

    Args:
        shape: the full shape, batch axis included.
        dtype: the dtype name (``"float32"``).
        name: a label.

    Example:

    >>> x = Input((16,))
    >>> y = Dense(4)(x)
    >>> y.shape
    (None, 4)
    >>> (x > 0).dtype
    'bool'
    """

    _is_keras_tensor = True
    __array_ufunc__ = None  # ``np.ones(3) * x`` defers to ``x.__rmul__``

    def __init__(self, shape: Any, dtype: Any = "float32", name: str | None = None) -> None:
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = str(dtype)
        self.name = name
        self._keras_history: tuple | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _keras_mask(self) -> Any:
        """``None`` or the boolean KerasTensor mask these values will carry, as in Keras 3
        (see ``symbolic_mask.py``)."""
        from gpunet.layers.symbolic_mask import symbolic_mask

        return symbolic_mask(self)

    @property
    def node(self) -> Any:
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    @property
    def _input_layer(self):
        """The InputLayer behind an ``Input(...)`` tensor (used by ``Sequential.add``)."""
        return self._keras_history[0] if self._keras_history else None

    # Two KerasTensors of one shape and dtype under ``+ - *`` give the merge layers ``Add`` /
    # ``Subtract`` / ``Multiply``; everything else an ``OpLambda`` naming the gpunet.ops function.
    def _binary(self, other: Any, op: str, merge: str | None = None,
                reverse: bool = False) -> KerasTensor:
        if (merge is not None and isinstance(other, KerasTensor) and other.shape == self.shape
                and other.dtype == self.dtype):
            from gpunet.layers import merging

            pair = [other, self] if reverse else [self, other]
            return getattr(merging, merge)()(pair)
        from gpunet import ops

        return getattr(ops, op)(other, self) if reverse else getattr(ops, op)(self, other)

    def _unary(self, op: str, **kwargs: Any) -> KerasTensor:
        from gpunet import ops

        return getattr(ops, op)(self, **kwargs)

    __add__, __radd__ = _op("add", merge="Add"), _op("add", True, "Add")
    __sub__, __rsub__ = _op("subtract", merge="Subtract"), _op("subtract", True, "Subtract")
    __mul__, __rmul__ = _op("multiply", merge="Multiply"), _op("multiply", True, "Multiply")
    __truediv__, __rtruediv__ = _op("divide"), _op("divide", True)
    __floordiv__, __rfloordiv__ = _op("floor_divide"), _op("floor_divide", True)
    __mod__, __rmod__ = _op("mod"), _op("mod", True)
    __pow__, __rpow__ = _op("power"), _op("power", True)
    __matmul__, __rmatmul__ = _op("matmul"), _op("matmul", True)
    __lt__, __le__ = _op("less"), _op("less_equal")
    __gt__, __ge__ = _op("greater"), _op("greater_equal")
    __ne__ = _op("not_equal")
    __and__, __rand__ = _op("logical_and"), _op("logical_and", True)
    __or__, __ror__ = _op("logical_or"), _op("logical_or", True)
    __xor__, __rxor__ = _op("logical_xor"), _op("logical_xor", True)
    __eq__ = object.__eq__  # identity, as Keras 3's KerasTensor (no ``__eq__`` override)
    __hash__ = object.__hash__

    def __neg__(self) -> KerasTensor:
        return self._unary("negative")

    def __abs__(self) -> KerasTensor:
        return self._unary("abs")

    def __invert__(self) -> KerasTensor:
        """``~x``: ``ops.logical_not``, as Keras 3."""
        return self._unary("logical_not")

    def __round__(self, ndigits: int | None = None) -> KerasTensor:
        """``round(x, n)``: ``ops.round(x, decimals=n or 0)``."""
        return self._unary("round", decimals=ndigits or 0)

    def reshape(self, newshape: Any) -> KerasTensor:
        """``ops.reshape(x, newshape)``."""
        from gpunet import ops

        return ops.reshape(self, newshape)

    def squeeze(self, axis: Any = None) -> KerasTensor:
        """``ops.squeeze(x, axis)``."""
        return self._unary("squeeze", axis=axis)

    def __getitem__(self, key: Any) -> KerasTensor:
        """``x[:, 0]`` records an ``OpLambda`` of ``ops.getitem``."""
        from gpunet import ops

        return ops.getitem(self, key)

    def __iter__(self):
        raise NotImplementedError("Iterating over a symbolic KerasTensor is not supported; "
                                  "index it (x[:, 0]) or use gpunet.ops functions.")

    def __bool__(self) -> bool:
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean.")

    def __int__(self) -> int:
        raise ValueError(_SYMBOLIC.format("an int"))

    def __float__(self) -> float:
        raise ValueError(_SYMBOLIC.format("a float"))

    def __array__(self, dtype: Any = None, copy: Any = None):
        raise ValueError(_SYMBOLIC.format("a NumPy array"))

    def __repr__(self) -> str:
        shape = "(" + ", ".join("None" if s is None else str(s) for s in self.shape) + (
            ",)" if len(self.shape) == 1 else ")")
        return f"<KerasTensor shape={shape}, dtype={self.dtype}, name={self.name}>"
