"""Differentiable shape ops: reshape, transpose, slicing, concatenation."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops import _symbolic as _sym
from gpunet.ops._utils import as_tensor, xp_of


class Reshape(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.src = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.src)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        self.axes = tuple(range(x.ndim))[::-1] if self.axes is None else tuple(self.axes)
        return xp_of(x).transpose(x, self.axes)

    def backward(self, gy):
        inv = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inv[a] = i
        return xp_of(gy).transpose(gy, inv)


class GetItem(Function):
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.key]

    def backward(self, gy):
        xp = xp_of(gy)
        g = xp.zeros(self.shape, self.dtype)
        if isinstance(self.key, (slice, int)) or (
            isinstance(self.key, tuple)
            and all(isinstance(k, (slice, int)) or k is None or k is Ellipsis for k in self.key)
        ):
            g[self.key] = gy
        else:
            backend_of(gy).scatter_add(g, self.key, gy)
        return g


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return xp_of(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        xp = xp_of(gy)
        idx = []
        total = 0
        for s in self.sizes[:-1]:
            total += s
            idx.append(total)
        parts = xp.split(gy, idx, axis=self.axis)
        return tuple(p if n else None for p, n in zip(parts, self.needs_input_grad))


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return xp_of(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        xp = xp_of(gy)
        n = gy.shape[self.axis]
        return tuple(xp.take(gy, i, axis=self.axis) if need else None
                     for i, need in zip(range(n), self.needs_input_grad))


def reshape(x: Any, newshape: Any = None, *, shape: Any = None) -> Tensor:
    """Gives ``x`` a new shape (one ``-1`` is inferred), as ``keras.ops.reshape(x, newshape)``.

    ``shape=`` is accepted as another name for ``newshape`` (gpunet's earlier spelling, kept
    for the configs of saved Functional models)."""
    if (newshape is None) == (shape is None):
        raise TypeError("reshape() takes the new shape once, as `newshape` (positional or "
                        f"keyword). Received: newshape={newshape!r}, shape={shape!r}")
    newshape = shape if newshape is None else newshape
    if x.__class__ is _sym.KT:
        return _sym.call("reshape", (x,), {"newshape": newshape})
    return Reshape(newshape)(as_tensor(x))


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permutes the axes (reverses them by default)."""
    if x.__class__ is _sym.KT:
        return _sym.call("transpose", (x,), {"axes": axes})
    return Transpose(axes)(as_tensor(x))


def getitem(x: Any, key: Any) -> Tensor:
    """``x[key]`` with NumPy indexing; repeated integer indices accumulate gradients."""
    if x.__class__ is _sym.KT:
        return _sym.call("getitem", (x,), {"key": key})
    if isinstance(key, Tensor):
        key = key.data
    return GetItem(key)(as_tensor(x))


def concatenate(xs: list, axis: int = 0) -> Tensor:
    """Joins tensors along an existing axis (``axis=0`` by default, as in Keras 3)."""
    if _sym.any_symbolic(xs):
        return _sym.call("concatenate", (list(xs),), {"axis": axis})
    xs = [as_tensor(x) for x in xs]
    return Concatenate(axis)(*xs)


def stack(x: list, axis: int = 0) -> Tensor:
    """Joins the tensors of the sequence ``x`` along a new axis."""
    if _sym.any_symbolic(x):
        return _sym.call("stack", (list(x),), {"axis": axis})
    return Stack(axis)(*[as_tensor(t) for t in x])


def expand_dims(x: Any, axis: int) -> Tensor:
    """Inserts a size-1 axis at ``axis``."""
    if x.__class__ is _sym.KT:
        return _sym.call("expand_dims", (x,), {"axis": axis})
    x = as_tensor(x)
    shape = list(x.shape)
    axis = axis % (len(shape) + 1)
    shape.insert(axis, 1)
    return reshape(x, shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Removes size-1 axes (all of them, or those in ``axis``)."""
    if x.__class__ is _sym.KT:
        return _sym.call("squeeze", (x,), {"axis": axis})
    x = as_tensor(x)
    if axis is None:
        shape = [s for s in x.shape if s != 1]
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"Cannot squeeze axis {a} of size {x.shape[a]} (shape {x.shape}).")
        shape = [s for i, s in enumerate(x.shape) if i not in axes]
    return reshape(x, shape)


def flatten(x: Any) -> Tensor:
    """Flattens every axis but the first: ``[N, d1, ..., dk] -> [N, d1*...*dk]``."""
    if x.__class__ is _sym.KT:
        return _sym.call("flatten", (x,), {})
    x = as_tensor(x)
    return reshape(x, (x.shape[0], -1))
