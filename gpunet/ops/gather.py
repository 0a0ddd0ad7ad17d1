"""Index-rearranging ``keras.ops`` (tile, repeat, roll, flip, take, sort, split, ...) through
one generic differentiable gather.

Each op is written once as a NumPy-style function of an array. To differentiate it, the
op is applied to ``arange(x.size)`` (the flat index of every input element): the result says
which input element each output element copies. The forward pass is then ``x.flat[idx]`` and
the backward pass one scatter-add (``bincount`` with weights) of the output gradient, on the
backend of the data (no host copy). An index equal to ``x.size`` stands for a constant zero
(``tril``, ``diag``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpunet.autograd import engine
from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import raw, symbolic


class Gather(Function):
    """``y = concat(x.ravel(), [0])[idx]``; backward scatter-adds ``gy`` into ``x``'s shape."""

    def __init__(self, idx: Any):
        self.idx = idx

    def forward(self, x):
        xp = xp_of(x)
        self.shape, self.dtype, self.n = x.shape, x.dtype, x.size
        flat = xp.concatenate([x.reshape(-1), xp.zeros(1, x.dtype)])
        return flat[self.idx]

    def backward(self, gy):
        xp = xp_of(gy)
        g = xp.bincount(self.idx.reshape(-1), weights=gy.reshape(-1), minlength=self.n + 1)
        return g[: self.n].astype(self.dtype).reshape(self.shape)


def gather_apply(x: Any, f: Callable[[Any, Any, Any], Any]) -> Tensor:
    """Applies ``f(xp, a, fill)`` (a pure rearrangement of ``a``, with ``fill`` where it puts
    a constant zero) to ``x``, differentiably when ``x`` needs a gradient."""
    x = as_tensor(x)
    xp = xp_of(x)
    if not (x.requires_grad and engine.grad_enabled()):
        return Tensor(f(xp, x.data, xp.zeros((), x.dtype)))
    idx = f(xp, xp.arange(x.size).reshape(x.shape), x.size)
    return Gather(idx)(x)


@symbolic("tile")
def tile(x: Any, repeats: Any) -> Tensor:
    """Repeats ``x`` ``repeats`` times along each axis (``numpy.tile``)."""
    return gather_apply(x, lambda xp, a, fill: xp.tile(a, repeats))


@symbolic("repeat")
def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Repeats each element ``repeats`` times along ``axis`` (flattened when None)."""
    return gather_apply(x, lambda xp, a, fill: xp.repeat(a, raw(repeats), axis=axis))


@symbolic("roll")
def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    """Rolls elements along ``axis`` by ``shift`` (flattened when ``axis`` is None)."""
    return gather_apply(x, lambda xp, a, fill: xp.roll(a, shift, axis=axis))


@symbolic("flip")
def flip(x: Any, axis: Any = None) -> Tensor:
    """Reverses the order of elements along ``axis`` (all axes when None)."""
    return gather_apply(x, lambda xp, a, fill: xp.flip(a, axis=axis))


def fliplr(x: Any) -> Tensor:
    """Reverses axis 1."""
    return flip(x, 1)


def flipud(x: Any) -> Tensor:
    """Reverses axis 0."""
    return flip(x, 0)


@symbolic("rot90")
def rot90(array: Any, k: int = 1, axes: tuple = (0, 1)) -> Tensor:
    """Rotates by 90 degrees ``k`` times in the plane of ``axes``."""
    return gather_apply(array, lambda xp, a, fill: xp.rot90(a, k, axes))


@symbolic("take")
def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when None);
    negative indices count from the end."""
    ids = raw(as_tensor(indices, raw(x) if hasattr(raw(x), "dtype") else None))
    return gather_apply(x, lambda xp, a, fill: xp.take(a, ids.astype("int64"), axis=axis))


@symbolic("take_along_axis")
def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    """``numpy.take_along_axis``: picks along ``axis`` with indices shaped like ``x``."""
    ids = raw(as_tensor(indices, raw(x) if hasattr(raw(x), "dtype") else None))

    def f(xp, a, fill):
        i = ids.astype("int64")
        if axis is None:
            return xp.take_along_axis(a.reshape(-1), i, axis=-1)
        ax = axis % a.ndim
        both = [max(p, q) for p, q in zip(a.shape, i.shape)]  # broadcast all but `axis`
        a = xp.broadcast_to(a, tuple(both[:ax] + [a.shape[ax]] + both[ax + 1:]))
        i = xp.broadcast_to(i, tuple(both[:ax] + [i.shape[ax]] + both[ax + 1:]))
        return xp.take_along_axis(a, i, axis=ax)

    return gather_apply(x, f)


@symbolic("diagonal")
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal of the ``(axis1, axis2)`` planes, moved to the last axis."""
    return gather_apply(x, lambda xp, a, fill: xp.diagonal(a, offset, axis1, axis2).copy())


@symbolic("diag")
def diag(x: Any, k: int = 0) -> Tensor:
    """A 1-D ``x`` on the ``k``-th diagonal of a square matrix, or the ``k``-th diagonal of a
    2-D ``x``."""
    def f(xp, a, fill):
        if a.ndim == 1:
            n = a.shape[0] + abs(k)
            out = xp.full((n, n), fill, a.dtype)
            i = xp.arange(a.shape[0])
            out[i + max(-k, 0), i + max(k, 0)] = a
            return out
        return xp.diagonal(a, k).copy()

    return gather_apply(x, f)


def diagflat(x: Any, k: int = 0) -> Tensor:
    """``diag`` of the flattened input."""
    from gpunet.ops.shape_ops import reshape

    return diag(reshape(as_tensor(x), (-1,)), k)


def _tri_mask(xp, shape, k, lower):
    r = xp.arange(shape[-2])[:, None]
    c = xp.arange(shape[-1])[None, :]
    return (c - r <= k) if lower else (c - r >= k)


@symbolic("tril")
def tril(x: Any, k: int = 0) -> Tensor:
    """Zeros above the ``k``-th diagonal of the last two axes."""
    return gather_apply(x, lambda xp, a, fill: xp.where(_tri_mask(xp, a.shape, k, True), a,
                                                        fill))


@symbolic("triu")
def triu(x: Any, k: int = 0) -> Tensor:
    """Zeros below the ``k``-th diagonal of the last two axes."""
    return gather_apply(x, lambda xp, a, fill: xp.where(_tri_mask(xp, a.shape, k, False), a,
                                                        fill))


@symbolic("broadcast_to")
def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Broadcasts ``x`` to ``shape`` (the gradient sums over the broadcast axes)."""
    return gather_apply(x, lambda xp, a, fill: xp.broadcast_to(a, tuple(shape)).copy())


@symbolic("moveaxis")
def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    """Moves axes ``source`` to positions ``destination``."""
    return gather_apply(x, lambda xp, a, fill: xp.moveaxis(a, source, destination))


@symbolic("swapaxes")
def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Interchanges two axes."""
    return gather_apply(x, lambda xp, a, fill: xp.swapaxes(a, axis1, axis2))


@symbolic("ravel")
def ravel(x: Any) -> Tensor:
    """The flattened 1-D tensor."""
    from gpunet.ops.shape_ops import reshape

    return reshape(as_tensor(x), (-1,))


def _split_points(n: int, sections: Any, even: bool, name: str) -> list:
    if isinstance(sections, int):
        if even and n % sections:
            raise ValueError(f"{name}: an axis of size {n} cannot be split into {sections} "
                             "equal sections. Use `array_split` for unequal sections.")
        q, r = divmod(n, sections)
        sizes = [q + (i < r) for i in range(sections)]
        pts, t = [], 0
        for s in sizes[:-1]:
            t += s
            pts.append(t)
        return pts
    return [int(i) for i in raw(sections)]


def _split(x: Any, points: list, axis: int) -> list:
    from gpunet.ops.shape_ops import getitem

    x = as_tensor(x)
    axis = axis % x.ndim
    bounds = [0] + points + [x.shape[axis]]
    pre = (slice(None),) * axis
    return [getitem(x, pre + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


@symbolic("split")
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Splits into equal sections (an int) or at the given indices along ``axis``."""
    x = as_tensor(x)
    return _split(x, _split_points(x.shape[axis], indices_or_sections, True, "split"), axis)


@symbolic("array_split")
def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Like ``split``; an int need not divide the axis (the first parts get one more)."""
    x = as_tensor(x)
    return _split(x, _split_points(x.shape[axis], indices_or_sections, False, "array_split"),
                  axis)


def hsplit(x: Any, indices_or_sections: Any) -> list:
    """Splits along axis 1 (axis 0 for 1-D)."""
    return split(x, indices_or_sections, 1 if as_tensor(x).ndim > 1 else 0)


def vsplit(x: Any, indices_or_sections: Any) -> list:
    """Splits along axis 0."""
    return split(x, indices_or_sections, 0)


def dsplit(x: Any, indices_or_sections: Any) -> list:
    """Splits along axis 2."""
    return split(x, indices_or_sections, 2)


@symbolic("unstack")
def unstack(x: Any, num: int | None = None, axis: int = 0) -> list:
    """Unpacks ``x`` along ``axis`` into a list of tensors."""
    from gpunet.ops.shape_ops import getitem

    x = as_tensor(x)
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: `num` is {num} but axis {axis} has size {n}.")
    pre = (slice(None),) * (axis % x.ndim)
    return [getitem(x, pre + (i,)) for i in range(n)]


def _sort_idx(xp, a, axis):
    return xp.argsort(a, axis=axis, kind="stable")


@symbolic("sort")
def sort(x: Any, axis: int = -1) -> Tensor:
    """Sorted values along ``axis`` (the gradient follows each value to where it came from)."""
    x = as_tensor(x)
    order = _sort_idx(xp_of(x), x.data, axis)
    return gather_apply(x, lambda xp, a, fill: xp.take_along_axis(a, order, axis=axis))


@symbolic("top_k")
def top_k(x: Any, k: int, sorted: bool = True) -> tuple:  # noqa: A002
    """The ``k`` largest values along the last axis and their indices.

    Args:
        x: the input, ``(..., n)``.
        k: how many to keep.
        sorted: accepted for Keras compatibility; the values always come largest first
            (ties: the lower index first, as Keras).

    Returns:
        ``(values, indices)``, each ``(..., k)``; the values carry the gradient, the int32
        indices none.

    Example:

    >>> values, idx = ops.top_k(np.array([1.0, 3.0, 2.0]), 2)   # [3., 2.], [1, 2]
    """
    x = as_tensor(x)
    xp = xp_of(x)
    order = xp.argsort(-x.data, axis=-1, kind="stable")[..., :k]
    vals = gather_apply(x, lambda xp_, a, fill: xp_.take_along_axis(a, order, axis=-1))
    return vals, Tensor(order.astype("int32"))


__all__ = ["array_split", "broadcast_to", "diag", "diagflat", "diagonal", "dsplit", "flip",
           "fliplr", "flipud", "hsplit", "moveaxis", "ravel", "repeat", "roll", "rot90",
           "sort", "split", "swapaxes", "take", "take_along_axis", "tile", "top_k", "tril",
           "triu", "unstack", "vsplit"]
