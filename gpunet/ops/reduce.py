"""Reductions and scans: ``prod``, ``var``/``std``, ``logsumexp``, ``cumsum``/``cumprod``,
``argmax``/``argsort``, ``any``/``all``, quantiles, the ``nan*`` family.

Most are compositions of differentiable ops (their gradient comes for free); ``prod``,
``cumsum`` and ``cumprod`` are ``Function`` s of their own; index results carry no gradient.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, norm_axis, xp_of
from gpunet.ops._wrap import raw, symbolic, wrap
from gpunet.ops.gather import gather_apply


def _to_last(xp, x, axis):
    """Moves ``axis`` (a tuple) to the end and merges it into one axis."""
    keep = [i for i in range(x.ndim) if i not in axis]
    moved = xp.transpose(x, keep + list(axis))
    return moved.reshape(moved.shape[:len(keep)] + (-1,)), keep


class Prod(Function):
    """Product over ``axis``; the gradient is the product of the other elements (exact with
    zeros: exclusive cumulative products from both ends)."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.ax = norm_axis(self.axis, x.ndim) or tuple(range(x.ndim))
        return x.prod(axis=self.ax, keepdims=self.keepdims)

    def backward(self, gy):
        xp = xp_of(gy)
        x, ax = self.x, self.ax
        flat, keep = _to_last(xp, x, ax)
        ones = xp.ones(flat.shape[:-1] + (1,), x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], -1),
                                   -1), -1)
        others = left * right
        g = gy if self.keepdims else xp.expand_dims(gy, ax)
        g = xp.transpose(xp.broadcast_to(g, x.shape), keep + list(ax))
        moved = (g.reshape(flat.shape) * others).reshape(g.shape)
        inv = [0] * x.ndim
        for i, a in enumerate(keep + list(ax)):
            inv[a] = i
        return xp.transpose(moved, inv)


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return xp_of(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        xp = xp_of(gy)
        return xp.flip(xp.cumsum(xp.flip(gy, self.axis), axis=self.axis), self.axis)


class Cumprod(Function):
    """Cumulative product; gradient ``sum_{j>=i} g_j y_j / x_i`` (inputs must be non-zero
    for an exact gradient, as with the quotient formula in TensorFlow)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.x = x
        self.y = xp_of(x).cumprod(x, axis=self.axis)
        return self.y

    def backward(self, gy):
        xp = xp_of(gy)
        s = xp.flip(xp.cumsum(xp.flip(gy * self.y, self.axis), axis=self.axis), self.axis)
        return s / self.x


def _flat_axis(x: Tensor, axis: Any) -> tuple:
    if axis is None:
        from gpunet.ops.shape_ops import reshape

        return reshape(x, (-1,)), 0
    return x, axis


@symbolic("prod")
def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    """Product of the elements over ``axis``."""
    x = as_tensor(x)
    y = Prod(axis, keepdims)(x)
    return y if dtype is None else M.cast(y, dtype)


@symbolic("cumsum")
def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``axis`` (of the flattened input when None)."""
    x, axis = _flat_axis(as_tensor(x), axis)
    y = Cumsum(axis)(x)
    return y if dtype is None else M.cast(y, dtype)


@symbolic("cumprod")
def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Cumulative product along ``axis`` (of the flattened input when None)."""
    x, axis = _flat_axis(as_tensor(x), axis)
    y = Cumprod(axis)(x)
    return y if dtype is None else M.cast(y, dtype)


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else M.cast(x, "float32")


@symbolic("var")
def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Biased variance over ``axis``."""
    x = _float(as_tensor(x))
    d = M.subtract(x, M.mean(x, axis, True))
    return M.mean(M.square(d), axis, keepdims)


@symbolic("std")
def std(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Standard deviation (square root of the biased variance) over ``axis``."""
    return M.sqrt(var(x, axis, keepdims))


@symbolic("logsumexp")
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    x = as_tensor(x)
    m = Tensor(xp_of(x).max(x.data, axis=norm_axis(axis, x.ndim), keepdims=True))
    xp = xp_of(x)
    m = Tensor(xp.where(xp.isfinite(m.data), m.data, 0))
    out = M.add(M.log(M.sum(M.exp(M.subtract(x, m)), axis, True)), m)
    if keepdims:
        return out
    from gpunet.ops.shape_ops import squeeze

    return squeeze(out, axis) if axis is not None else M.sum(out)


def _index_reduce(name: str):
    def op(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        xp = xp_of(x)
        y = getattr(xp, name)(x.data, axis=axis)
        if keepdims:
            y = xp.expand_dims(y, axis) if axis is not None else y.reshape((1,) * x.ndim)
        return Tensor(y.astype("int32"))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Indices of the {name[3:]} values along ``axis`` (int32, no gradient)."
    return symbolic(name)(op)


argmax = _index_reduce("argmax")
argmin = _index_reduce("argmin")


@symbolic("argsort")
def argsort(x: Any, axis: int = -1) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (stable; int32, no gradient)."""
    x = as_tensor(x)
    a = x.data.reshape(-1) if axis is None else x.data
    return Tensor(xp_of(x).argsort(a, axis=-1 if axis is None else axis,
                                   kind="stable").astype("int32"))


@symbolic("argpartition")
def argpartition(x: Any, kth: int, axis: int = -1) -> Tensor:
    """Indices that partition ``x`` around its ``kth`` element (int32, no gradient)."""
    x = as_tensor(x)
    return Tensor(xp_of(x).argpartition(x.data, kth, axis=axis).astype("int32"))


def _bool_reduce(name: str):
    def op(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        return Tensor(getattr(x.data, name)(axis=norm_axis(axis, x.ndim), keepdims=keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Logical ``{name}`` over ``axis`` (a bool Tensor)."
    return symbolic(name)(op)


any = _bool_reduce("any")  # noqa: A001
all = _bool_reduce("all")  # noqa: A001


def count_nonzero(x: Any, axis: Any = None) -> Tensor:
    """Number of non-zero elements over ``axis`` (int32)."""
    x = as_tensor(x)
    return Tensor((x.data != 0).sum(axis=norm_axis(axis, x.ndim)).astype("int32"))


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis`` (``max``)."""
    return M.max(x, axis, keepdims)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis`` (``min``)."""
    return M.min(x, axis, keepdims)


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Range (max - min) over ``axis``."""
    return M.subtract(M.max(x, axis, keepdims), M.min(x, axis, keepdims))


@symbolic("average")
def average(x: Any, axis: Any = None, weights: Any = None) -> Tensor:
    """Weighted mean over ``axis``; ``weights`` 1-D along ``axis`` or shaped like ``x``."""
    x = _float(as_tensor(x))
    if weights is None:
        return M.mean(x, axis)
    w = as_tensor(weights, x.data)
    if w.ndim == 1 and x.ndim > 1 and axis is not None:
        from gpunet.ops.shape_ops import reshape

        shape = [1] * x.ndim
        shape[axis % x.ndim] = w.shape[0]
        w = reshape(w, shape)
    return M.divide(M.sum(M.multiply(x, w), axis), M.sum(M.multiply(w, x * 0 + 1), axis))


@symbolic("quantile")
def quantile(x: Any, q: Any, axis: Any = None, method: str = "linear",
             keepdims: bool = False) -> Tensor:
    """The ``q``-th quantiles (0 <= q <= 1) over ``axis``; ``method`` as in NumPy
    (``linear``, ``lower``, ``higher``, ``midpoint``, ``nearest``). Differentiable in ``x``."""
    x = _float(as_tensor(x))
    xp = xp_of(x)
    ax = norm_axis(axis, x.ndim) or tuple(range(x.ndim))
    qa = xp.asarray(raw(q), dtype=x.dtype)

    def f(xp_, a, fill):
        moved, keep = _to_last(xp_, a, ax)
        return moved

    flat = gather_apply(x, f)
    n = flat.shape[-1]
    srt = gather_apply(flat, lambda xp_, a, fill: xp_.take_along_axis(
        a, xp.argsort(flat.data, axis=-1, kind="stable"), axis=-1))
    pos = qa.reshape(-1) * (n - 1)
    lo, hi = xp.floor(pos).astype("int64"), xp.ceil(pos).astype("int64")
    frac = {"linear": pos - lo, "lower": pos * 0, "higher": pos * 0 + 1,
            "midpoint": pos * 0 + 0.5, "nearest": (xp.around(pos) > lo).astype(x.dtype)}
    if method not in frac:
        raise ValueError(f"quantile: unknown `method` {method!r}. Expected one of "
                         f"{sorted(frac)}.")
    from gpunet.ops.gather import moveaxis, take

    a_lo, a_hi = take(srt, lo, axis=-1), take(srt, hi, axis=-1)
    w = Tensor(frac[method].astype(x.dtype))
    out = M.add(a_lo, M.multiply(M.subtract(a_hi, a_lo), w))  # (..., nq)
    if keepdims:
        from gpunet.ops.shape_ops import reshape

        shape = [1 if i in ax else s for i, s in enumerate(x.shape)]
        out = reshape(moveaxis(out, -1, 0), (out.shape[-1],) + tuple(shape))
    else:
        out = moveaxis(out, -1, 0)
    if qa.ndim == 0:
        from gpunet.ops.shape_ops import squeeze

        out = squeeze(out, 0)
    return out


def percentile(x: Any, q: Any, axis: Any = None, method: str = "linear",
               keepdims: bool = False) -> Tensor:
    """The ``q``-th percentiles (0 <= q <= 100) over ``axis``."""
    return quantile(x, raw(as_tensor(q)) / 100.0, axis, method, keepdims)


def median(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Median over ``axis``."""
    return quantile(x, 0.5, axis, keepdims=keepdims)


def _nan(fn, fill, name):
    def op(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = as_tensor(x)
        return fn(M.where(Tensor(~xp_of(x).isnan(x.data)), x, fill), axis, keepdims)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name[3:]}`` over ``axis`` ignoring NaNs (differentiable)."
    return op


nansum = _nan(M.sum, 0.0, "nansum")
nanprod = _nan(prod, 1.0, "nanprod")
nanmax = _nan(M.max, float("-inf"), "nanmax")
nanmin = _nan(M.min, float("inf"), "nanmin")


def nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` ignoring NaNs."""
    x = as_tensor(x)
    ok = Tensor((~xp_of(x).isnan(x.data)).astype(x.dtype))
    return M.divide(nansum(x, axis, keepdims), M.sum(ok, axis, keepdims))


def nanvar(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` ignoring NaNs."""
    x = as_tensor(x)
    d = M.subtract(x, nanmean(x, axis, True))
    return nanmean(M.square(d), axis, keepdims)


def nanstd(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` ignoring NaNs."""
    return M.sqrt(nanvar(x, axis, keepdims))


def nanargmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """``argmax`` ignoring NaNs."""
    x = as_tensor(x)
    return argmax(Tensor(xp_of(x).where(xp_of(x).isnan(x.data), -xp_of(x).inf, x.data)), axis,
                  keepdims)


def nanargmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """``argmin`` ignoring NaNs."""
    x = as_tensor(x)
    return argmin(Tensor(xp_of(x).where(xp_of(x).isnan(x.data), xp_of(x).inf, x.data)), axis,
                  keepdims)


def nancumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """``cumsum`` treating NaNs as zero."""
    x = as_tensor(x)
    return cumsum(M.where(Tensor(~xp_of(x).isnan(x.data)), x, 0.0), axis, dtype)


def nancumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """``cumprod`` treating NaNs as one."""
    x = as_tensor(x)
    return cumprod(M.where(Tensor(~xp_of(x).isnan(x.data)), x, 1.0), axis, dtype)


def nanquantile(x: Any, q: Any, axis: Any = None, method: str = "linear",
                keepdims: bool = False) -> Tensor:
    """``numpy.nanquantile`` on the backend arrays (no gradient)."""
    x = as_tensor(x)
    return wrap(xp_of(x).nanquantile(x.data, raw(q), axis=axis, method=method,
                                     keepdims=keepdims))


def nanpercentile(x: Any, q: Any, axis: Any = None, method: str = "linear",
                  keepdims: bool = False) -> Tensor:
    """``numpy.nanpercentile`` on the backend arrays (no gradient)."""
    return nanquantile(x, raw(as_tensor(q)) / 100.0, axis, method, keepdims)


def nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Median ignoring NaNs (no gradient)."""
    return nanquantile(x, 0.5, axis, keepdims=keepdims)


@symbolic("diff")
def diff(a: Any, n: int = 1, axis: int = -1) -> Tensor:
    """The ``n``-th discrete difference along ``axis``."""
    from gpunet.ops.shape_ops import getitem

    a = as_tensor(a)
    ax = axis % a.ndim
    pre = (slice(None),) * ax
    for _ in range(n):
        a = M.subtract(getitem(a, pre + (slice(1, None),)), getitem(a, pre + (slice(None, -1),)))
    return a


@symbolic("trace")
def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """Sum along the diagonal of the ``(axis1, axis2)`` planes."""
    from gpunet.ops.gather import diagonal

    return M.sum(diagonal(x, offset, axis1, axis2), -1)


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Tensor:
    """Integral of ``y`` along ``axis`` by the trapezoidal rule."""
    from gpunet.ops.shape_ops import getitem

    y = _float(as_tensor(y))
    ax = axis % y.ndim
    pre = (slice(None),) * ax
    mid = M.multiply(M.add(getitem(y, pre + (slice(1, None),)),
                           getitem(y, pre + (slice(None, -1),))), 0.5)
    d = diff(as_tensor(x, y.data), axis=axis) if x is not None else dx
    return M.sum(M.multiply(mid, d), axis)
