"""A learning-rate schedule as one GPU kernel, traced from its own formula.

A built-in schedule's ``_value(step, m)`` is written once against a math namespace ``m``
(``gpunet.optimizers.scalars``). Run with ``TRACE``, whose values are C expressions, it writes
its formula out as the body of a one-element CuPy kernel: ``lr = <formula of it_[0]>;``. So a
device step computes its learning rate in one launch instead of one per operation (about ten
for a cosine decay with warmup), from the step counter in device memory, with the host
formula's operations in the host formula's order. The expressions are the subset of C that is
also Python (the test emulators run them with NumPy): arithmetic, comparisons and calls of
``pow``, ``sqrt``, ``floor``, ``ceil``, ``cos``, ``log``, ``fmin``, ``fmax`` and
``gpunet_where``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gpunet.backend.kernels._spec import KernelSpec
from gpunet.backend.kernels.step_scalars import WHERE_PREAMBLE


def _c(x: Any) -> str:
    if isinstance(x, Expr):
        return x.c
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"cannot trace {x!r}")
    return repr(float(x))  # a double literal that reads back as the same value


class Expr:
    """A float64 (or bool) C expression; operators build bigger ones, parenthesised as the
    Python expression that made them."""

    __slots__ = ("c",)

    def __init__(self, c: str) -> None:
        self.c = c

    def _op(self, op: str, other: Any, reverse: bool = False) -> Expr:
        a, b = (_c(other), self.c) if reverse else (self.c, _c(other))
        return Expr(f"({a} {op} {b})")

    def __add__(self, o): return self._op("+", o)
    def __radd__(self, o): return self._op("+", o, True)
    def __sub__(self, o): return self._op("-", o)
    def __rsub__(self, o): return self._op("-", o, True)
    def __mul__(self, o): return self._op("*", o)
    def __rmul__(self, o): return self._op("*", o, True)
    def __truediv__(self, o): return self._op("/", o)
    def __rtruediv__(self, o): return self._op("/", o, True)
    def __lt__(self, o): return self._op("<", o)
    def __le__(self, o): return self._op("<=", o)
    def __gt__(self, o): return self._op(">", o)
    def __ge__(self, o): return self._op(">=", o)
    def __eq__(self, o): return self._op("==", o)  # type: ignore[override]
    def __neg__(self): return Expr(f"(-{self.c})")
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError("a traced value has no truth value (use m.where)")


def _call(name: str) -> staticmethod:
    return staticmethod(lambda *args: Expr(f"{name}({', '.join(_c(a) for a in args)})"))


class _TraceMath:
    """The math namespace whose results are C expressions."""

    device = True
    kernels = False
    pow, sqrt, floor, ceil = _call("pow"), _call("sqrt"), _call("floor"), _call("ceil")
    cos, log, minimum, maximum = _call("cos"), _call("log"), _call("fmin"), _call("fmax")
    where = _call("gpunet_where")


TRACE = _TraceMath()
STEP = Expr("(it_[0] + 0.0)")  # the int64 step counter as a double
_SPECS: dict[str, KernelSpec] = {}


def schedule_spec(schedule: Any) -> KernelSpec | None:
    """The one-element kernel ``lr = schedule(it_[0])`` of a built-in schedule (built once
    per formula), or None when its formula cannot be traced."""
    try:
        value = schedule._value(STEP, TRACE)
        body = f"lr = {_c(value)};"
    except (TypeError, AttributeError, ValueError):
        return None
    name = "schedule_" + hashlib.sha1(body.encode()).hexdigest()[:16]
    spec = _SPECS.get(name)
    if spec is None:
        spec = _SPECS[name] = KernelSpec(name, "raw int64 it_", "float64 lr", body,
                                         WHERE_PREAMBLE, scalars=(), group="schedule")
    return spec
