"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and
their functional forms (``add([a, b])``, ``concatenate([a, b])``, ...).

Each takes a list of tensors (symbolic ``KerasTensor`` s in a Functional model, or arrays /
Tensors when called eagerly) and returns one tensor; gradients come from ``gpunet.ops``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.layers.layer import Layer, shape_str
from gpunet.layers.node import is_symbolic, symbolic_call
from gpunet.registry import register


def _broadcast(a: tuple, b: tuple, name: str, shapes: list) -> tuple:
    """Broadcast of two shapes (batch axis included), ``None`` meaning unknown."""
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x is None or y is None:
            out.append(y if x in (None, 1) and y != 1 else x if y in (None, 1) else None)
        elif x == 1 or y == 1 or x == y:
            out.append(max(x, y))
        else:
            raise ValueError(f"Layer '{name}': inputs with incompatible shapes "
                             f"{[shape_str(s) for s in shapes]} cannot be merged "
                             "elementwise (they must be equal or broadcastable).")
    return tuple(out)


class _Merge(Layer):
    """Base of the merge layers: ``call`` receives a list of Tensors.

    Args:
        **kwargs: standard layer arguments (``name``, ``dtype``, ``trainable``).
    """

    supports_masking = True
    _min_inputs, _max_inputs = 2, None

    def _check_count(self, shapes: Any) -> list:
        if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(
                shapes[0], (list, tuple)):
            raise ValueError(f"A merge layer ('{self.name}', {type(self).__name__}) should be "
                             f"called on a list of inputs. Received: input_shape={shapes}")
        n = len(shapes)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (f"exactly {self._min_inputs}" if self._max_inputs == self._min_inputs
                    else f"at least {self._min_inputs}")
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) should be called on "
                             f"{want} inputs. Received: {n} input(s).")
        return [tuple(s) for s in shapes]

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = self._check_count(input_shape)
        out = shapes[0]
        for s in shapes[1:]:
            out = _broadcast(out, s, self.name, shapes)
        return out

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Tensor:
        if is_symbolic(inputs):
            return symbolic_call(self, inputs, training, kwargs)
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer ('{self.name}', {type(self).__name__}) should be "
                             f"called on a list of inputs. Received: inputs={inputs!r}")
        b = self._backend()
        xs = []
        for x in inputs:
            if not isinstance(x, Tensor):
                x = Tensor(b.asarray(x))
            if x.data.dtype.kind == "f" and x.dtype != self.compute_dtype and x.creator is None:
                x = Tensor(x.data.astype(self.compute_dtype))
            xs.append(x)
        shapes = [(None,) + tuple(x.shape[1:]) for x in xs]
        if not self.built:
            self.build(shapes)
            self.built = True
            self.input_shape_ = shapes
        else:
            self._check_count(shapes)
        out = self.call(xs)
        masks = [x._keras_mask for x in xs]
        mask = kwargs.get("mask")
        if mask is not None or any(m is not None for m in masks):
            out._keras_mask = self.compute_mask(xs, mask if mask is not None else masks)
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The AND of the input masks (None when no input has one)."""
        if mask is None or not isinstance(mask, (list, tuple)):
            return mask
        present = [m for m in mask if m is not None]
        if not present:
            return None
        out = present[0]
        for m in present[1:]:
            out = out & m
        return out


def _fold(xs: list, fn: Any) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


@register("layer")
class Add(_Merge):
    """Adds a list of inputs elementwise (shapes equal or broadcastable).

    Input shape:
        A list of at least 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> added = Add()([Dense(8)(x1), Dense(8)(x2)])
    """

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return _fold(inputs, ops.add)


@register("layer")
class Subtract(_Merge):
    """Subtracts the second input from the first, elementwise.

    Input shape:
        A list of exactly 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> diff = Subtract()([a, b])   # a - b
    """

    _max_inputs = 2

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return ops.subtract(inputs[0], inputs[1])


@register("layer")
class Multiply(_Merge):
    """Multiplies a list of inputs elementwise.

    Input shape:
        A list of at least 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> gated = Multiply()([x, gate])
    """

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return _fold(inputs, ops.multiply)


@register("layer")
class Average(_Merge):
    """The elementwise mean of a list of inputs.

    Input shape:
        A list of at least 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> ensemble = Average()([model_a(x), model_b(x)])
    """

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return _fold(inputs, ops.add) * (1.0 / len(inputs))


@register("layer")
class Maximum(_Merge):
    """The elementwise maximum of a list of inputs.

    Input shape:
        A list of at least 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> m = Maximum()([a, b])
    """

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return _fold(inputs, ops.maximum)


@register("layer")
class Minimum(_Merge):
    """The elementwise minimum of a list of inputs.

    Input shape:
        A list of at least 2 tensors of the same shape.

    Output shape:
        The common shape.

    Example:

    >>> m = Minimum()([a, b])
    """

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return _fold(inputs, ops.minimum)


def add(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Add``: ``add([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Subtract``: ``subtract([a, b])`` is ``a - b``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Multiply``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Average``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Maximum``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence, **kwargs: Any) -> Any:
    """Functional form of ``Minimum``."""
    return Minimum(**kwargs)(inputs)


@register("layer")
class Concatenate(_Merge):
    """Concatenates a list of inputs along ``axis``.

    Args:
        axis: the axis to join along (default ``-1``); every other axis must match.

    Input shape:
        A list of at least 2 tensors of the same rank, equal except along ``axis``.

    Output shape:
        The common shape, with the sizes along ``axis`` summed.

    Example:

    >>> merged = Concatenate()([Dense(8)(a), Dense(4)(b)])   # (None, 12)
    """

    supports_masking = True

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = self._check_count(input_shape)
        rank = len(shapes[0])
        ax = self.axis % rank if -rank <= self.axis < rank else None
        if ax is None or ax == 0 or any(len(s) != rank for s in shapes):
            raise ValueError(f"Layer '{self.name}' (Concatenate, axis={self.axis}) needs inputs "
                             "of the same rank with a non-batch concat axis. Received: input "
                             f"shapes {[shape_str(s) for s in shapes]}.")
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i == ax:
                    out[i] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ValueError(
                        f"A `Concatenate` layer ('{self.name}') requires inputs with matching "
                        f"shapes except for the concatenation axis {self.axis}. Received: input "
                        f"shapes {[shape_str(s) for s in shapes]}.")
                elif a is None:
                    out[i] = b
        return tuple(out)

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        return ops.concatenate(inputs, axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(sq, 1e-12))


def _batch_dot(x: Tensor, y: Tensor, ax: int, ay: int) -> Tensor:
    """Contracts axis ``ax`` of ``x`` with axis ``ay`` of ``y``, sample by sample."""
    xs = [d for i, d in enumerate(x.shape) if i not in (0, ax)]
    ys = [d for i, d in enumerate(y.shape) if i not in (0, ay)]
    n, k = x.shape[0], x.shape[ax]
    xt = ops.transpose(x, [0] + [i for i in range(1, x.ndim) if i != ax] + [ax])
    yt = ops.transpose(y, [0, ay] + [i for i in range(1, y.ndim) if i != ay])
    px, py = 1, 1
    for d in xs:
        px *= d
    for d in ys:
        py *= d
    out = ops.matmul(ops.reshape(xt, (n, px, k)), ops.reshape(yt, (n, k, py)))
    return ops.reshape(out, (n, *xs, *ys) if xs or ys else (n, 1))


@register("layer")
class Dot(_Merge):
    """Dot product of two inputs along the given axes, sample by sample (a batch dot).

    Args:
        axes: an int, or a pair ``(axis_of_first, axis_of_second)`` (batch axis is 0).
        normalize: L2-normalise both inputs along the dot axes first, so the result is the
            cosine similarity.

    Input shape:
        A list of 2 tensors ``(batch, ..., n)``, with equal sizes along the dot axes.

    Output shape:
        The axes of the first input without the dot axis, then those of the second (batch
        excluded); ``(batch, 1)`` when nothing remains.

    Example:

    >>> cos = Dot(axes=1, normalize=True)([a, b])   # (None, 1)
    """

    supports_masking = False
    _max_inputs = 2

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: a list must have 2 "
                                 f"elements. Received: axes={axes}")
            axes = (int(axes[0]), int(axes[1]))
        else:
            axes = int(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes(self, r1: int, r2: int) -> tuple[int, int]:
        a = self.axes if isinstance(self.axes, tuple) else (self.axes, self.axes)
        return (a[0] % r1, a[1] % r2)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        s1, s2 = self._check_count(input_shape)
        a1, a2 = self._axes(len(s1), len(s2))
        if a1 == 0 or a2 == 0:
            raise ValueError(f"Layer '{self.name}' (Dot): the batch axis cannot be a dot axis. "
                             f"Received: axes={self.axes}")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"Incompatible input shapes for layer '{self.name}' (Dot): axis "
                             f"{a1} of {shape_str(s1)} has size {s1[a1]}, axis {a2} of "
                             f"{shape_str(s2)} has size {s2[a2]}. Received: axes={self.axes}")
        rest = [d for i, d in enumerate(s1) if i not in (0, a1)] + [
            d for i, d in enumerate(s2) if i not in (0, a2)]
        return (s1[0],) + tuple(rest) if rest else (s1[0], 1)

    def call(self, inputs: list, training: bool | None = None) -> Tensor:
        x, y = inputs
        a1, a2 = self._axes(x.ndim, y.ndim)
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        return _batch_dot(x, y, a1, a2)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def get_config(self) -> dict:
        axes = list(self.axes) if isinstance(self.axes, tuple) else self.axes
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


def concatenate(inputs: Sequence, axis: int = -1, **kwargs: Any) -> Any:
    """Functional form of ``Concatenate``: ``concatenate([a, b], axis=-1)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: Sequence, axes: Any = -1, normalize: bool = False, **kwargs: Any) -> Any:
    """Functional form of ``Dot``: ``dot([a, b], axes=1)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]
