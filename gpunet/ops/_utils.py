"""Helpers shared by the op modules."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, get_backend, numpy_backend

_HOST = numpy_backend()


def xp_of(*xs: Any):
    """The array module of the first backend array among ``xs``."""
    if xs and xs[0].__class__ is _HOST.xp.ndarray:  # the common case, first
        return _HOST.xp
    for x in xs:
        if isinstance(x, Tensor):
            x = x.data
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return backend_of(x).xp
    return get_backend().xp


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sums ``g`` over the axes that broadcasting added or stretched to reach its shape."""
    if g.shape == tuple(shape):
        return g
    nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def as_tensor(x: Any, like: Any = None) -> Tensor:
    """Wraps arrays and Python scalars into constant Tensors on ``like``'s backend."""
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (float, int)):
        b = backend_of(like) if like is not None else backend_of(x)
        return Tensor(b.asarray(x))
    b = backend_of(like) if like is not None else get_backend()
    dtype = like.dtype if like is not None and hasattr(like, "dtype") else None
    if dtype is not None and isinstance(x, float) and dtype.kind in "iub":
        dtype = None  # int tensor * 0.5 must not truncate 0.5 to 0
    return Tensor(b.xp.asarray(x, dtype=dtype))


def norm_axis(axis: Any, ndim: int) -> tuple | None:
    """Normalises ``axis`` (None, int or sequence) to a tuple of non-negative ints."""
    if axis is None:
        return None
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis)
