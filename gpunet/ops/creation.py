"""Tensor creation and conversion (``convert_to_tensor``, ``zeros``, ``arange``, ``eye``, ...)
and the inspection ops (``shape``, ``ndim``, ``size``, ``dtype``, ``is_tensor``).

New tensors live on the current default backend (``gpunet.backend.get_backend()``, changed
with ``gpunet.backend.device(...)``); ``*_like`` ones on the backend of their argument.
Floating defaults follow ``gpunet.config.floatx()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, floatx, get_backend
from gpunet.ops import _symbolic as _sym
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import raw


def standardize_dtype(dtype: Any) -> str | None:
    """A dtype (string, NumPy type, Tensor dtype) as Keras's string name; None stays None."""
    if dtype is None:
        return None
    if dtype in ("float", float):
        return floatx()
    if dtype in ("int", int):
        return "int64"
    if dtype in ("bool", bool):
        return "bool"
    try:
        return np.dtype(dtype).name
    except TypeError as e:
        raise ValueError(f"Invalid dtype: {dtype!r}.") from e


def _xp():
    return get_backend().xp


def _dt(dtype: Any, default: str | None = None) -> str:
    return standardize_dtype(dtype) or default or floatx()


def convert_to_tensor(x: Any, dtype: Any = None, sparse: bool | None = None,
                      ragged: bool | None = None) -> Tensor:
    """Converts a NumPy array, a list, a Python number or a Tensor to a Tensor.

    Python floats (and lists of them) become ``floatx()``, as in Keras; arrays keep their
    dtype unless ``dtype`` is given; Tensors pass through (cast when ``dtype`` differs).

    Args:
        x: the value.
        dtype: the target dtype.
        sparse, ragged: accepted for Keras compatibility; ``True`` raises (no sparse or
            ragged tensors in gpunet).

    Returns:
        A Tensor on ``x``'s backend (for host data: the current default backend).
    """
    if sparse or ragged:
        raise ValueError("convert_to_tensor: gpunet has no sparse or ragged tensors. "
                         f"Received: sparse={sparse}, ragged={ragged}.")
    if isinstance(x, Tensor):
        if dtype is None or np.dtype(_dt(dtype)) == x.dtype:
            return x
        from gpunet.ops.math import cast

        return cast(x, _dt(dtype))
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        own = backend_of(x)  # a device array stays on its device; host data goes to the default
        b = get_backend() if own.is_host else own
        return Tensor(b.asarray(x, dtype=standardize_dtype(dtype)))
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Tensor):
        x = [convert_to_numpy(v) for v in x]  # explicit host copies
    host = np.asarray(x)
    if dtype is None and host.dtype == np.float64 and not isinstance(x, np.generic):
        host = host.astype(floatx())
    if dtype is None and host.dtype == np.int64 and not isinstance(x, np.generic):
        host = host.astype("int32")
    return Tensor(get_backend().asarray(host, dtype=standardize_dtype(dtype)))


def convert_to_numpy(x: Any) -> np.ndarray:
    """A NumPy array of ``x`` (an explicit device-to-host copy for a GPU tensor)."""
    x = raw(x)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return backend_of(x).to_numpy(x)
    return np.asarray(x)


def array(x: Any, dtype: Any = None) -> Tensor:
    """A new tensor holding ``x`` (``convert_to_tensor`` that always copies)."""
    t = convert_to_tensor(x, dtype)
    return Tensor(t.data.copy())


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a gpunet Tensor (or a symbolic KerasTensor)."""
    return isinstance(x, Tensor) or x.__class__ is _sym.KT


def shape(x: Any) -> tuple:
    """The shape of ``x`` as a tuple of ints (None for unknown symbolic dimensions)."""
    return tuple(x.shape)


def ndim(x: Any) -> int:
    """The number of axes of ``x``."""
    return len(x.shape)


def size(x: Any) -> int:
    """The number of elements of ``x``."""
    return int(np.prod(x.shape))


def dtype(x: Any) -> str:
    """The dtype of ``x`` as a string (``"float32"``)."""
    return standardize_dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)


def zeros(shape: Any, dtype: Any = None) -> Tensor:
    """A tensor of zeros (``floatx()`` unless ``dtype``)."""
    return Tensor(_xp().zeros(shape if isinstance(shape, int) else tuple(shape), _dt(dtype)))


def ones(shape: Any, dtype: Any = None) -> Tensor:
    """A tensor of ones (``floatx()`` unless ``dtype``)."""
    return Tensor(_xp().ones(shape if isinstance(shape, int) else tuple(shape), _dt(dtype)))


def empty(shape: Any, dtype: Any = None) -> Tensor:
    """An uninitialised tensor (``floatx()`` unless ``dtype``)."""
    return Tensor(_xp().empty(shape if isinstance(shape, int) else tuple(shape), _dt(dtype)))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor filled with ``fill_value`` (``floatx()`` unless ``dtype``, as in Keras)."""
    out = _xp().empty(shape if isinstance(shape, int) else tuple(shape), _dt(dtype))
    out[...] = raw(fill_value)  # a device scalar is broadcast on the device
    return Tensor(out)


def _like(name: str):
    def op(x: Any, dtype: Any = None) -> Tensor:
        a = raw(as_tensor(x))
        return Tensor(getattr(xp_of(a), name)(a, dtype=standardize_dtype(dtype)))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name[:-5]}`` with the shape (and dtype, unless given) of ``x``."
    return op


zeros_like = _like("zeros_like")
ones_like = _like("ones_like")
empty_like = _like("empty_like")


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor like ``x`` filled with ``fill_value``."""
    a = raw(as_tensor(x))
    return Tensor(xp_of(a).full_like(a, raw(fill_value), dtype=standardize_dtype(dtype)))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)`` (int32 for integer arguments, else
    ``floatx()``, as in Keras)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(raw(v), (int, np.integer)) for v in (start, stop, step))
        dtype = "int32" if ints else floatx()
    return Tensor(_xp().arange(raw(start), raw(stop), raw(step), dtype=_dt(dtype)))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    """A 2-D tensor with ones on the ``k``-th diagonal."""
    return Tensor(_xp().eye(N, M, k, dtype=_dt(dtype)))


def identity(n: int, dtype: Any = None) -> Tensor:
    """The ``n`` x ``n`` identity matrix."""
    return Tensor(_xp().eye(n, dtype=_dt(dtype)))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    """Ones at and below the ``k``-th diagonal."""
    return Tensor(_xp().tri(N, M, k, dtype=_dt(dtype)))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    out = _xp().linspace(raw(start), raw(stop), num, endpoint=endpoint, retstep=retstep,
                         dtype=_dt(dtype), axis=axis)
    return (Tensor(out[0]), out[1]) if retstep else Tensor(out)


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10,
             dtype: Any = None, axis: int = 0) -> Tensor:
    """``base ** linspace(start, stop, num)``."""
    return Tensor(_xp().logspace(raw(start), raw(stop), num, endpoint=endpoint, base=base,
                                 dtype=_dt(dtype), axis=axis))


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Tensor:
    """Numbers spaced evenly on a log scale from ``start`` to ``stop`` (same sign)."""
    a, b = float(raw(start)), float(raw(stop))
    if a == 0 or b == 0 or (a < 0) != (b < 0):
        raise ValueError(f"geomspace: `start` and `stop` must be non-zero and of one sign. "
                         f"Received: start={a}, stop={b}")
    sign = -1.0 if a < 0 else 1.0
    e = np.linspace(np.log10(abs(a)), np.log10(abs(b)), num, endpoint=endpoint)
    host = sign * 10.0 ** e
    host[0] = a
    if endpoint and num > 1:
        host[-1] = b
    host = np.moveaxis(host.reshape((-1,)), 0, axis) if axis else host
    return Tensor(get_backend().asarray(host.astype(_dt(dtype))))


def _window(name: str):
    def op(x: int) -> Tensor:
        return Tensor(getattr(_xp(), name)(int(raw(x))).astype(floatx()))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The {name} window of ``x`` points (``numpy.{name}``)."
    return op


bartlett, blackman, hamming, hanning = (_window(n) for n in
                                        ("bartlett", "blackman", "hamming", "hanning"))


def kaiser(x: int, beta: float) -> Tensor:
    """The Kaiser window of ``x`` points."""
    return Tensor(_xp().kaiser(int(raw(x)), beta).astype(floatx()))


class _Identity(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def copy(x: Any) -> Tensor:
    """A copy of ``x`` (differentiable)."""
    return _Identity()(as_tensor(x))


def stop_gradient(variable: Any) -> Tensor:
    """The same values, cut from the graph: no gradient flows back through it."""
    if variable.__class__ is _sym.KT:
        return _sym.call("stop_gradient", (variable,), {})
    return Tensor(as_tensor(variable).data)


def saturate_cast(x: Any, dtype: Any) -> Tensor:
    """Casts to ``dtype`` clipping values to its range first (no wrap-around)."""
    from gpunet.ops.math import cast, clip

    x = as_tensor(x)
    d = np.dtype(_dt(dtype))
    if d.kind in "iu" and x.dtype.kind == "f":
        info = np.iinfo(d)
        x = clip(x, float(info.min), float(info.max))
    return cast(x, d.name)
