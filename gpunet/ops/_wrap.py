"""Helpers for the ``keras.ops``-style modules: raw arrays, symbolic dispatch, no-grad ops."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, get_backend
from gpunet.ops import _symbolic as _sym


def raw(x: Any) -> Any:
    """The backend array behind a Tensor; other values pass through."""
    return x.data if isinstance(x, Tensor) else x


def xp_for(*xs: Any) -> Any:
    """The array module of the first array/Tensor among ``xs`` (else the default backend)."""
    for x in xs:
        if isinstance(x, (list, tuple)):
            for v in x:
                v = raw(v)
                if hasattr(v, "dtype") and hasattr(v, "shape"):
                    return backend_of(v).xp
            continue
        x = raw(x)
        if hasattr(x, "dtype") and hasattr(x, "shape"):
            return backend_of(x).xp
    return get_backend().xp


def arr(x: Any, xp: Any = None) -> Any:
    """``x`` as an array of the backend ``xp`` (lists and Python scalars converted there)."""
    x = raw(x)
    xp = xp or xp_for(x)
    if isinstance(x, (list, tuple)):
        vals = [raw(v) for v in x]
        if vals and all(hasattr(v, "shape") for v in vals):
            return xp.stack([arr(v, xp) for v in vals])
        return xp.asarray(vals)
    if hasattr(x, "dtype") and hasattr(x, "shape") and backend_of(x).xp is xp:
        return x
    return backend_of(xp.zeros(0)).asarray(x)


def wrap(y: Any) -> Any:
    """Wraps arrays (or tuples/lists of them) into constant Tensors."""
    if isinstance(y, tuple):
        return tuple(wrap(v) for v in y)
    if isinstance(y, list):
        return [wrap(v) for v in y]
    if isinstance(y, Tensor) or not (hasattr(y, "dtype") and hasattr(y, "shape")):
        return y
    return Tensor(y)


def _has_kt(args: Any) -> bool:
    for a in args:
        if a.__class__ is _sym.KT:
            return True
        if isinstance(a, (list, tuple)) and _sym.any_symbolic(a):
            return True
    return False


def symbolic(name: str):
    """Decorator: a call with a Functional-API KerasTensor argument is recorded as an op
    layer (``gpunet.ops.<name>``) instead of running."""

    def deco(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if _has_kt(args) or _has_kt(kwargs.values()):
                return _sym.call(name, args, kwargs)
            return fn(*args, **kwargs)

        inner._symbolic = True
        return inner

    return deco


def _named(fn, params: tuple):
    """``fn(*args, **kwargs)`` that also takes its leading arguments by Keras's names
    (``params``), passing them on by position; its signature lists those names."""

    @functools.wraps(fn)
    def named(*args, **kwargs):
        if kwargs:
            args = list(args)
            for p in params[len(args):]:
                if p not in kwargs:
                    break
                args.append(kwargs.pop(p))
            clash = [p for p in params[:len(args)] if p in kwargs]
            if clash:
                raise TypeError(f"{fn.__name__}() got multiple values for argument "
                                f"{clash[0]!r}")
        return fn(*args, **kwargs)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    named.__signature__ = inspect.Signature([inspect.Parameter(p, kind) for p in params])
    return named


def nondiff(name: str, xp_name: str | None = None, params: tuple = ()):
    """The ``gpunet.ops`` op ``name`` applying ``xp.<xp_name>`` (default: ``name``) to the raw
    arrays and returning Tensors without a gradient (comparisons, logic, bit operations);
    ``params`` are Keras's names of its arguments, accepted as keywords."""
    fn_name = xp_name or name

    def op(*args, **kwargs):
        xp = xp_for(*args)
        a = [arr(x, xp) if isinstance(x, (Tensor, list)) or hasattr(x, "shape") else x
             for x in args]
        return wrap(getattr(xp, fn_name)(*a, **{k: raw(v) for k, v in kwargs.items()}))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``numpy.{fn_name}`` on the backend arrays (no gradient)."
    return _named(symbolic(name)(op), params) if params else symbolic(name)(op)
