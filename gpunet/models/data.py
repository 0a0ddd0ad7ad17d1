"""Turning the ``x``/``y`` given to fit/evaluate/predict into device batches.

Arrays are converted and copied to the device once per call (not once per batch); each
batch is then a gather (shuffled) or a slice (in order) on the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from gpunet.backend import Backend, floatx, to_numpy


def _host(a: Any) -> Any:
    if a is None:
        return None
    if hasattr(a, "_gpunet_tensor"):
        return a.data
    if hasattr(a, "__cuda_array_interface__") or isinstance(a, np.ndarray):
        return a
    if isinstance(a, (list, tuple)):
        try:
            return np.asarray(a)
        except ValueError as e:
            raise ValueError(f"Could not convert the data to an array: {e}") from None
    if hasattr(a, "__array__"):  # pandas objects and the like
        return np.asarray(a)
    raise TypeError(f"Unsupported data type {type(a).__name__}: expected a NumPy/CuPy array, "
                    "a list, or (for fit) a generator or Sequence.")


_TEXT_INPUTS: ContextVar[bool] = ContextVar("gpunet_text_inputs", default=False)


def is_text(a: Any) -> bool:
    """Whether ``a`` is a host array of strings (a model input such as
    ``Input(dtype="string")`` feeding ``TextVectorization``)."""
    return isinstance(a, np.ndarray) and a.dtype.kind in "OUS"


def takes_text(model: Any) -> bool:
    """Whether ``model`` takes raw strings: a Functional input of dtype ``"string"``, or a
    ``Sequential`` whose first layer is ``TextVectorization`` / ``StringLookup``."""
    if any(getattr(t, "dtype", None) == "string" for t in getattr(model, "inputs", None) or ()):
        return True
    from gpunet.layers.preprocessing.index_lookup import StringLookup
    from gpunet.layers.preprocessing.text_vectorization import TextVectorization

    first = next(iter(getattr(model, "_layers", None) or ()), None)
    return isinstance(first, (TextVectorization, StringLookup))


@contextmanager
def text_inputs(model: Any) -> Iterator[None]:
    """Within: the data of ``fit``/``evaluate``/``predict`` may hold strings as features
    when ``model`` takes them (they stay on the host); otherwise features must be numbers."""
    token = _TEXT_INPUTS.set(takes_text(model))
    try:
        yield
    finally:
        _TEXT_INPUTS.reset(token)


def text_allowed() -> bool:
    """Whether string features are accepted here (see ``text_inputs``)."""
    return _TEXT_INPUTS.get()


def _check_numeric(name: str, a: Any, allow_text: bool = False) -> None:
    if a is not None and a.dtype.kind not in "biuf" and not (
            allow_text and is_text(a) and text_allowed()):
        raise TypeError(f"Argument `{name}` must hold numbers; received an array of dtype "
                        f"{a.dtype}.")


def take_rows(b: Backend, a: Any, key: Any) -> Any:
    """Rows ``key`` (a slice or an index array on the device) of ``a``; a host text array
    takes a host copy of the index (on NumPy that is the index itself)."""
    if isinstance(key, slice):
        return a[key]
    if is_text(a):
        return a.take(to_numpy(key), axis=0)
    return a.take(key, axis=0)  # the rows ``a[key]`` gives, with less work per call


def device_dtype(a: Any, kind: str) -> Any:
    """The dtype ``a`` gets on the device.

    ``kind`` is ``"x"``, ``"y"`` or ``"w"``: features become floatx except integer arrays
    wider than 16 bits (token ids keep their type); float targets become floatx, integer
    targets keep their type; sample weights become floatx.
    """
    k = a.dtype.kind
    if kind == "w":
        return floatx()
    if kind == "y":
        return floatx() if k == "f" else a.dtype
    if k in "iu" and a.dtype.itemsize > 2:
        return a.dtype
    return floatx()


def to_device(b: Backend, a: Any, kind: str) -> Any:
    """Copies ``a`` to the device once, with the dtype ``device_dtype`` gives; strings
    (features only) stay on the host as an object array, for the model's text layers."""
    if a is None:
        return None
    if kind == "x" and is_text(a) and text_allowed():
        return np.asarray(a, dtype=object)
    return b.asarray(a, dtype=device_dtype(a, kind))


class ArrayData:
    """In-memory arrays on one device, served as batches.

    Args:
        backend: where the batches live.
        x, y, sample_weight: host or device arrays with the same first dimension.
        batch_size: rows per batch (the last partial batch is kept).
        shuffle: ``True`` (new permutation each pass), ``False`` or ``"batch"``.
        steps: batches per epoch (default: one pass over the data).
        names: how errors call ``x``, ``y`` and ``sample_weight``.
    """

    def __init__(self, backend: Backend, x: Any, y: Any = None, sample_weight: Any = None,
                 batch_size: int = 32, shuffle: Any = False, steps: int | None = None,
                 names: tuple = ("x", "y", "sample_weight")) -> None:
        self.b = backend
        x, y, w = _host(x), _host(y), _host(sample_weight)
        for name, a in zip(names, (x, y, w)):
            _check_numeric(name, a, allow_text=name == names[0])
        n = len(x)
        for name, a in zip(names[1:], (y, w)):
            if a is not None and len(a) != n:
                raise ValueError(
                    f"Data cardinality is ambiguous: {names[0]} has {n} samples but {name} has "
                    f"{len(a)} samples. Make sure all arrays contain the same number of samples."
                )
        if n == 0:
            raise ValueError("Expected non-empty data; received x with 0 samples.")
        self.n = n
        self.x = to_device(backend, x, "x")
        self.y = to_device(backend, y, "y")
        self.w = to_device(backend, w, "w")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.steps = steps or math.ceil(n / self.batch_size)
        self._order = None
        self._pos = 0

    def _new_pass(self) -> None:
        self._pos = 0
        if self.shuffle == "batch":
            nb = math.ceil(self.n / self.batch_size)
            blocks = self.b.to_numpy(self.b.permutation(nb))
            idx = np.concatenate([np.arange(i * self.batch_size,
                                            min((i + 1) * self.batch_size, self.n))
                                  for i in blocks])
            self._order = self.b.asarray(idx)
        elif self.shuffle:
            self._order = self.b.permutation(self.n)
        else:
            self._order = None

    def epoch(self):
        """Yields ``steps`` batches ``(x, y, w)``; a full pass re-shuffles when it ends."""
        for _ in range(self.steps):
            if self._order is None and self._pos == 0 or self._pos >= self.n:
                self._new_pass()
            lo, hi = self._pos, min(self._pos + self.batch_size, self.n)
            self._pos = hi
            if self._order is None:
                sl = slice(lo, hi)
                yield (self.x[sl], None if self.y is None else self.y[sl],
                       None if self.w is None else self.w[sl])
            else:
                idx = self._order[lo:hi]
                yield (take_rows(self.b, self.x, idx),
                       None if self.y is None else self.y.take(idx, axis=0),
                       None if self.w is None else self.w.take(idx, axis=0))


def split_validation(x: Any, y: Any, w: Any, validation_split: float):
    """Keras's rule: the *last* ``validation_split`` fraction, taken before any shuffling."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: "
                         f"validation_split={validation_split}")
    x, y, w = _host(x), _host(y), _host(w)
    n = len(x)
    at = int(math.floor(n * (1.0 - validation_split)))
    if at == 0 or at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves no data for "
            f"{'training' if at == 0 else 'validation'} ({n} samples in total)."
        )

    def cut(a):
        return (None, None) if a is None else (a[:at], a[at:])

    (xt, xv), (yt, yv), (wt, wv) = cut(x), cut(y), cut(w)
    return (xt, yt, wt), (xv, yv, wv)


def class_weights_to_sample_weights(y: Any, class_weight: dict) -> np.ndarray:
    """Per-sample weights from ``{class: weight}``: argmax for one-hot y, else the rounded label."""
    y = to_numpy(_host(y))
    if y.ndim > 1 and y.shape[-1] > 1:
        cls = y.argmax(axis=-1)
    else:
        cls = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table.get(int(c), 1.0) for c in cls.reshape(-1)], dtype=floatx()) if len(
        table) > 64 else _vector_lookup(cls.reshape(-1), table)


def _vector_lookup(cls: np.ndarray, table: dict) -> np.ndarray:
    w = np.ones(cls.shape, dtype=floatx())
    for k, v in table.items():
        w[cls == k] = v
    return w
