"""Differentiable elementwise math, reductions and matrix products (``keras.ops`` style)."""

from __future__ import annotations

import builtins
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops import _symbolic as _sym
from gpunet.ops._utils import as_tensor, norm_axis, unbroadcast, xp_of


class _Binary(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.compute(a, b)


class Add(_Binary):
    def compute(self, a, b):
        return a + b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return (unbroadcast(gy, self.a.shape) if na else None,
                unbroadcast(gy, self.b.shape) if nb else None)


class Subtract(_Binary):
    def compute(self, a, b):
        return a - b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return (unbroadcast(gy, self.a.shape) if na else None,
                unbroadcast(-gy, self.b.shape) if nb else None)


class Multiply(_Binary):
    def compute(self, a, b):
        return a * b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return (unbroadcast(gy * self.b, self.a.shape) if na else None,
                unbroadcast(gy * self.a, self.b.shape) if nb else None)


class Divide(_Binary):
    def compute(self, a, b):
        return a / b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        ga = unbroadcast(gy / self.b, self.a.shape) if na else None
        gb = unbroadcast(-gy * self.a / (self.b * self.b), self.b.shape) if nb else None
        return ga, gb


class Power(_Binary):
    def compute(self, a, b):
        self.y = a ** b
        return self.y

    def backward(self, gy):
        xp = xp_of(gy)
        na, nb = self.needs_input_grad
        ga = unbroadcast(gy * self.b * self.a ** (self.b - 1), self.a.shape) if na else None
        gb = None
        if nb:
            safe = xp.where(self.a > 0, self.a, 1)
            gb = unbroadcast(gy * self.y * xp.log(safe), self.b.shape)
        return ga, gb


class Maximum(_Binary):
    def compute(self, a, b):
        return xp_of(a).maximum(a, b)

    def backward(self, gy):
        m = self.a >= self.b
        na, nb = self.needs_input_grad
        return (unbroadcast(gy * m, self.a.shape) if na else None,
                unbroadcast(gy * ~m, self.b.shape) if nb else None)


class Minimum(_Binary):
    def compute(self, a, b):
        return xp_of(a).minimum(a, b)

    def backward(self, gy):
        m = self.a <= self.b
        na, nb = self.needs_input_grad
        return (unbroadcast(gy * m, self.a.shape) if na else None,
                unbroadcast(gy * ~m, self.b.shape) if nb else None)


class MatMul(_Binary):
    def compute(self, a, b):
        return a @ b

    def backward(self, gy):
        xp = xp_of(gy)
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy
        if b.ndim == 1:  # restore the dropped axes innermost first (1-D @ 1-D gives a scalar)
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class _Unary(Function):
    """Elementwise op given ``f(xp, x)`` and ``df(xp, x, y, gy)``."""

    def __init__(self, f, df):
        self.f, self.df = f, df

    def forward(self, x):
        self.x = x
        self.y = self.f(xp_of(x), x)
        return self.y

    def backward(self, gy):
        return self.df(xp_of(gy), self.x, self.y, gy)


def unary(f, df, name: str | None = None):
    """Builds a differentiable elementwise function from a forward and its derivative
    (``name``: the ``gpunet.ops`` name it is recorded under on Functional-API inputs)."""

    def op(x):
        if x.__class__ is _sym.KT and name is not None:
            return _sym.call(name, (x,), {})
        return _Unary(f, df)(as_tensor(x))

    return op


negative = unary(lambda xp, x: -x, lambda xp, x, y, g: -g, "negative")
exp = unary(lambda xp, x: xp.exp(x), lambda xp, x, y, g: g * y, "exp")
log = unary(lambda xp, x: xp.log(x), lambda xp, x, y, g: g / x, "log")
log1p = unary(lambda xp, x: xp.log1p(x), lambda xp, x, y, g: g / (1 + x), "log1p")
sqrt = unary(lambda xp, x: xp.sqrt(x), lambda xp, x, y, g: g / (2 * y), "sqrt")
square = unary(lambda xp, x: x * x, lambda xp, x, y, g: 2 * x * g, "square")
abs = unary(lambda xp, x: xp.abs(x), lambda xp, x, y, g: g * xp.sign(x), "abs")  # noqa: A001
sin = unary(lambda xp, x: xp.sin(x), lambda xp, x, y, g: g * xp.cos(x), "sin")
cos = unary(lambda xp, x: xp.cos(x), lambda xp, x, y, g: -g * xp.sin(x), "cos")
tanh = unary(lambda xp, x: xp.tanh(x), lambda xp, x, y, g: g * (1 - y * y), "tanh")
sign = unary(lambda xp, x: xp.sign(x), lambda xp, x, y, g: g * 0, "sign")


class Clip(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.x = x
        return xp_of(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        return gy * ((self.x >= self.lo) & (self.x <= self.hi))


class Where(Function):
    def forward(self, cond, a, b):
        self.cond, self.sa, self.sb = cond, a.shape, b.shape
        return xp_of(a).where(cond, a, b)

    def backward(self, gy):
        _, na, nb = self.needs_input_grad
        z = gy * 0
        return (None,
                unbroadcast(xp_of(gy).where(self.cond, gy, z), self.sa) if na else None,
                unbroadcast(xp_of(gy).where(self.cond, z, gy), self.sb) if nb else None)


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.ax = norm_axis(self.axis, x.ndim)
        return x.sum(axis=self.ax, keepdims=self.keepdims)

    def backward(self, gy):
        xp = xp_of(gy)
        if not self.keepdims and self.ax is not None:
            gy = xp.expand_dims(gy, self.ax)
        return xp.broadcast_to(gy, self.shape).copy()


class Mean(Sum):
    def forward(self, x):
        y = super().forward(x)
        self.count = x.size // builtins.max(y.size, 1) if self.ax is not None else x.size
        return y / self.count if y.dtype.kind == "f" else y / self.count

    def backward(self, gy):
        return super().backward(gy / self.count)


class _Extreme(Function):
    def __init__(self, axis, keepdims, kind):
        self.axis, self.keepdims, self.kind = axis, keepdims, kind

    def forward(self, x):
        self.x = x
        self.ax = norm_axis(self.axis, x.ndim)
        self.y = (x.max if self.kind == "max" else x.min)(axis=self.ax, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(
            [s for i, s in enumerate(x.shape) if self.ax is not None and i not in self.ax])

    def backward(self, gy):
        hit = self.x == self.y
        count = hit.sum(axis=self.ax, keepdims=True)
        return gy.reshape(self.y.shape) * hit / count


def _t(x, like=None):
    return as_tensor(x, like)


def _pair(a, b):
    if isinstance(a, Tensor):
        return a, as_tensor(b, a.data)
    if isinstance(b, Tensor):
        return as_tensor(a, b.data), b
    return as_tensor(a), as_tensor(b)


def _binary(name: str, fn: type, doc: str):
    """The public op ``name(x1, x2)``: ``fn`` on the pair, or an op layer on KerasTensors."""

    def op(x1: Any, x2: Any) -> Tensor:
        if x1.__class__ is _sym.KT or x2.__class__ is _sym.KT:
            return _sym.call(name, (x1, x2), {})
        return fn()(*_pair(x1, x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


add = _binary("add", Add, "Elementwise ``x1 + x2`` with broadcasting.")
subtract = _binary("subtract", Subtract, "Elementwise ``x1 - x2`` with broadcasting.")
multiply = _binary("multiply", Multiply, "Elementwise ``x1 * x2`` with broadcasting.")
divide = _binary("divide", Divide, "Elementwise ``x1 / x2`` with broadcasting.")
power = _binary("power", Power, "Elementwise ``x1 ** x2`` with broadcasting.")
maximum = _binary("maximum", Maximum,
                  "Elementwise maximum (the gradient goes to ``x1`` on ties).")
minimum = _binary("minimum", Minimum,
                  "Elementwise minimum (the gradient goes to ``x1`` on ties).")
matmul = _binary("matmul", MatMul, "Matrix product with NumPy's ``matmul`` broadcasting rules.")


def clip(x: Any, x_min: float, x_max: float) -> Tensor:
    """Clips values to ``[x_min, x_max]``; the gradient is zero outside."""
    return Clip(x_min, x_max)(_t(x))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Chooses ``a`` where ``condition`` holds, else ``b``."""
    a, b = _pair(a, b)
    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where()(cond, a, b)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes by default)."""
    if x.__class__ is _sym.KT:
        return _sym.call("sum", (x,), {"axis": axis, "keepdims": keepdims})
    return Sum(axis, keepdims)(_t(x))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes by default)."""
    if x.__class__ is _sym.KT:
        return _sym.call("mean", (x,), {"axis": axis, "keepdims": keepdims})
    return Mean(axis, keepdims)(_t(x))


def max(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: float | None = None) -> Tensor:
    """Maximum over ``axis``; ties share the gradient equally. ``initial``: also
    compared with the result (Keras's ``initial``)."""
    if x.__class__ is _sym.KT:
        kw = {"axis": axis, "keepdims": keepdims}
        if initial is not None:
            kw["initial"] = initial
        return _sym.call("max", (x,), kw)
    y = _Extreme(axis, keepdims, "max")(_t(x))
    return y if initial is None else maximum(y, initial)


def min(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: float | None = None) -> Tensor:
    """Minimum over ``axis``; ties share the gradient equally. ``initial``: also
    compared with the result (Keras's ``initial``)."""
    if x.__class__ is _sym.KT:
        kw = {"axis": axis, "keepdims": keepdims}
        if initial is not None:
            kw["initial"] = initial
        return _sym.call("min", (x,), kw)
    y = _Extreme(axis, keepdims, "min")(_t(x))
    return y if initial is None else minimum(y, initial)


def cast(x: Any, dtype: Any) -> Tensor:
    """Casts to ``dtype`` (the gradient is cast back to the input's dtype)."""
    x = _t(x)
    return _Cast(dtype)(x)


class _Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.src)
