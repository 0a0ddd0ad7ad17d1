"""The elementwise ``keras.ops`` families, table-driven.

``UNARY`` and ``BINARY`` hold each differentiable op as a forward ``f`` and its derivative
formula; ``NONDIFF_*`` name the NumPy functions that return values without a gradient
(comparisons, logic, rounding, bits). Each entry becomes a public function of ``gpunet.ops``.
"""

from __future__ import annotations

import math as _math
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops import _symbolic as _sym
from gpunet.ops._utils import as_tensor, unbroadcast, xp_of
from gpunet.ops._wrap import nondiff, raw, wrap, xp_for
from gpunet.ops.math import unary

_LN2, _LN10 = _math.log(2.0), _math.log(10.0)

# name -> (f(xp, x), df(xp, x, y, g)): the gradient of sum(g * f(x)) with respect to x.
UNARY = {
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, x, y, g: g * (y + 1)),
    "exp2": (lambda xp, x: xp.exp2(x), lambda xp, x, y, g: g * y * _LN2),
    "log2": (lambda xp, x: xp.log2(x), lambda xp, x, y, g: g / (x * _LN2)),
    "log10": (lambda xp, x: xp.log10(x), lambda xp, x, y, g: g / (x * _LN10)),
    "rsqrt": (lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y, g: -0.5 * g * y / x),
    "cbrt": (lambda xp, x: xp.cbrt(x), lambda xp, x, y, g: g / (3 * y * y)),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, x, y, g: -g * y * y),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, x, y, g: g * (1 + y * y)),
    "arcsin": (lambda xp, x: xp.arcsin(x), lambda xp, x, y, g: g / xp.sqrt(1 - x * x)),
    "arccos": (lambda xp, x: xp.arccos(x), lambda xp, x, y, g: -g / xp.sqrt(1 - x * x)),
    "arctan": (lambda xp, x: xp.arctan(x), lambda xp, x, y, g: g / (1 + x * x)),
    "sinh": (lambda xp, x: xp.sinh(x), lambda xp, x, y, g: g * xp.cosh(x)),
    "cosh": (lambda xp, x: xp.cosh(x), lambda xp, x, y, g: g * xp.sinh(x)),
    "arcsinh": (lambda xp, x: xp.arcsinh(x), lambda xp, x, y, g: g / xp.sqrt(x * x + 1)),
    "arccosh": (lambda xp, x: xp.arccosh(x), lambda xp, x, y, g: g / xp.sqrt(x * x - 1)),
    "arctanh": (lambda xp, x: xp.arctanh(x), lambda xp, x, y, g: g / (1 - x * x)),
    "deg2rad": (lambda xp, x: x * (_math.pi / 180), lambda xp, x, y, g: g * (_math.pi / 180)),
    "rad2deg": (lambda xp, x: x * (180 / _math.pi), lambda xp, x, y, g: g * (180 / _math.pi)),
    "sinc": (lambda xp, x: xp.sinc(x),
             lambda xp, x, y, g: g * xp.where(x == 0, 0, (xp.cos(_math.pi * x) - y)
                                                / xp.where(x == 0, 1, x))),
    "log_sigmoid": (lambda xp, x: -(xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)),
                    lambda xp, x, y, g: g * (1 - 0.5 * (xp.tanh(0.5 * x) + 1))),
    "hard_tanh": (lambda xp, x: xp.clip(x, -1, 1), lambda xp, x, y, g: g * (xp.abs(x) < 1)),
    "tanh_shrink": (lambda xp, x: x - xp.tanh(x), lambda xp, x, y, g: g * xp.tanh(x) ** 2),
    "sparse_plus": (lambda xp, x: xp.where(x <= -1, 0, xp.where(x >= 1, x, (x + 1) ** 2 / 4)),
                    lambda xp, x, y, g: g * xp.where(x <= -1, 0, xp.where(x >= 1, 1,
                                                                         (x + 1) / 2))),
    "sparse_sigmoid": (lambda xp, x: xp.clip((x + 1) / 2, 0, 1),
                       lambda xp, x, y, g: g * 0.5 * (xp.abs(x) < 1)),
    "erf": (None, None),  # filled below from the erf in ``nn`` (CuPy-safe, no SciPy)
}
# Piecewise-constant functions: derivative zero almost everywhere (Keras's gradient is 0 too).
ZERO_GRAD = ("floor", "ceil", "trunc")
NONDIFF_UNARY = ("isnan", "isinf", "isfinite", "signbit", "logical_not", "bitwise_not",
                 "bitwise_invert")
NONDIFF_BINARY = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
                  "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
                  "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "left_shift",
                  "right_shift", "floor_divide", "gcd", "lcm", "heaviside", "nextafter", "isin")
# Keras 3's argument names where they are not ("x",) / ("x1", "x2").
_KERAS_PARAMS = {**{n: ("x", "y") for n in (
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
    "left_shift", "right_shift")}, "isin": ("x1", "x2", "assume_unique", "invert")}
# name -> (f(xp, a, b), da(xp, a, b, y, g), db(xp, a, b, y, g))
BINARY = {
    "arctan2": (lambda xp, a, b: xp.arctan2(a, b),
                lambda xp, a, b, y, g: g * b / (a * a + b * b),
                lambda xp, a, b, y, g: -g * a / (a * a + b * b)),
    "hypot": (lambda xp, a, b: xp.hypot(a, b), lambda xp, a, b, y, g: g * a / y,
              lambda xp, a, b, y, g: g * b / y),
    "logaddexp": (lambda xp, a, b: xp.logaddexp(a, b),
                  lambda xp, a, b, y, g: g * xp.exp(a - y),
                  lambda xp, a, b, y, g: g * xp.exp(b - y)),
    "logaddexp2": (lambda xp, a, b: xp.logaddexp2(a, b),
                   lambda xp, a, b, y, g: g * xp.exp2(a - y),
                   lambda xp, a, b, y, g: g * xp.exp2(b - y)),
    "mod": (lambda xp, a, b: xp.mod(a, b), lambda xp, a, b, y, g: g,
            lambda xp, a, b, y, g: -g * xp.floor_divide(a, b)),
    "fmod": (lambda xp, a, b: xp.fmod(a, b), lambda xp, a, b, y, g: g,
             lambda xp, a, b, y, g: -g * xp.trunc(a / b)),
    "fmax": (lambda xp, a, b: xp.fmax(a, b), lambda xp, a, b, y, g: g * (a >= b),
             lambda xp, a, b, y, g: g * (a < b)),
    "fmin": (lambda xp, a, b: xp.fmin(a, b), lambda xp, a, b, y, g: g * (a <= b),
             lambda xp, a, b, y, g: g * (a > b)),
    "divide_no_nan": (lambda xp, a, b: xp.where(b == 0, 0, a / xp.where(b == 0, 1, b)),
                      lambda xp, a, b, y, g: xp.where(b == 0, 0, g / xp.where(b == 0, 1, b)),
                      lambda xp, a, b, y, g: xp.where(b == 0, 0, -g * y / xp.where(b == 0, 1, b))),
    "ldexp": (lambda xp, a, b: a * xp.exp2(b), lambda xp, a, b, y, g: g * xp.exp2(b), None),
}


class ElementwiseBinary(Function):
    """A broadcasting binary op given by ``f`` and the two partial-derivative formulas."""

    def __init__(self, f, da, db):
        self.f, self.da, self.db = f, da, db

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = self.f(xp_of(a, b), a, b)
        return self.y

    def backward(self, gy):
        xp = xp_of(gy)
        na, nb = self.needs_input_grad
        a, b, y = self.a, self.b, self.y
        ga = unbroadcast(self.da(xp, a, b, y, gy), a.shape) if na and self.da else None
        gb = unbroadcast(self.db(xp, a, b, y, gy), b.shape) if nb and self.db else None
        return ga, gb


def _binary(name: str, f, da, db):
    def op(x1: Any, x2: Any) -> Tensor:
        if x1.__class__ is _sym.KT or x2.__class__ is _sym.KT:
            return _sym.call(name, (x1, x2), {})
        if isinstance(x1, Tensor):
            x2 = as_tensor(x2, x1.data)
        elif isinstance(x2, Tensor):
            x1 = as_tensor(x1, x2.data)
        else:
            x1, x2 = as_tensor(x1), as_tensor(x2)
        if x1.dtype.kind in "iub" and x2.dtype.kind in "iub" and name != "ldexp":
            return Tensor(f(xp_of(x1), x1.data, x2.data))
        return ElementwiseBinary(f, da, db)(x1, x2)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}(x1, x2)`` with broadcasting (differentiable)."
    return op


def _zero_grad(name: str):
    def op(x: Any) -> Tensor:
        if x.__class__ is _sym.KT:
            return _sym.call(name, (x,), {})
        x = as_tensor(x)
        return Tensor(getattr(xp_of(x), name)(x.data))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}``; piecewise constant, so it carries no gradient."
    return op


def _erf_entry():
    return (lambda xp, x: backend_of(x).erf(x),
            lambda xp, x, y, g: g * (2 / _math.sqrt(_math.pi)) * xp.exp(-x * x))


_ERFINV_C = ((2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
              -0.00125372503, -0.00417768164, 0.246640727, 1.50140941),
             (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
              -0.0076224613, 0.00943887047, 1.00167406, 2.83297682))


def _erfinv(xp, x):
    """Giles's (2010) polynomial start, then two Newton steps on ``erf(y) = x``."""
    w = -xp.log((1 - x) * (1 + x))
    small = w < 5
    ws = xp.where(small, w - 2.5, xp.sqrt(xp.maximum(w, 5)) - 3)
    p = xp.where(small, _ERFINV_C[0][0], _ERFINV_C[1][0])
    for a, b in zip(_ERFINV_C[0][1:], _ERFINV_C[1][1:]):
        p = xp.where(small, a, b) + p * ws
    y = (p * x).astype(x.dtype)
    erf = UNARY["erf"][0]
    for _ in range(2):
        y = y - (erf(xp, y) - x) / ((2 / _math.sqrt(_math.pi)) * xp.exp(-y * y))
    return xp.where(x >= 1, xp.inf, xp.where(x <= -1, -xp.inf, y))


UNARY["erf"] = _erf_entry()
UNARY["erfinv"] = (_erfinv, lambda xp, x, y, g: g * (_math.sqrt(_math.pi) / 2) * xp.exp(y * y))
UNARY["erfc"] = (lambda xp, x: 1 - UNARY["erf"][0](xp, x),
                 lambda xp, x, y, g: -UNARY["erf"][1](xp, x, y, g))

OPS: dict[str, Any] = {}
for _n, (_f, _df) in UNARY.items():
    OPS[_n] = unary(_f, _df, _n)
    OPS[_n].__name__ = _n
    OPS[_n].__doc__ = f"Elementwise ``{_n}`` (differentiable)."
for _n in ZERO_GRAD:
    OPS[_n] = _zero_grad(_n)
for _n in NONDIFF_UNARY + NONDIFF_BINARY:
    _np = {"bitwise_not": "invert", "bitwise_invert": "invert",
           "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift"}.get(_n, _n)
    OPS[_n] = nondiff(_n, _np, _KERAS_PARAMS.get(_n, ("x",) if _n in NONDIFF_UNARY
                                                  else ("x1", "x2")))
for _n, (_f, _da, _db) in BINARY.items():
    OPS[_n] = _binary(_n, _f, _da, _db)


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001
    """Rounds half to even to ``decimals`` places (no gradient, as in Keras)."""
    return wrap(xp_for(x).around(raw(as_tensor(x)), decimals))


def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Elementwise ``|x1 - x2| <= atol + rtol * |x2|`` as a bool Tensor."""
    xp = xp_for(x1, x2)
    return wrap(xp.isclose(raw(as_tensor(x1)), raw(as_tensor(x2)), rtol=rtol, atol=atol,
                           equal_nan=equal_nan))


def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``x1`` and ``x2`` is close (a Python bool)."""
    return bool(isclose(x1, x2, rtol, atol, equal_nan).data.all())


def isposinf(x: Any) -> Tensor:
    """Whether each element is ``+inf``."""
    a = raw(as_tensor(x))
    return wrap(xp_for(a).isinf(a) & (a > 0))


def isneginf(x: Any) -> Tensor:
    """Whether each element is ``-inf``."""
    a = raw(as_tensor(x))
    return wrap(xp_for(a).isinf(a) & (a < 0))


OPS.update(round=round, isclose=isclose, allclose=allclose, isposinf=isposinf,
           isneginf=isneginf)
