"""The dtype an op recorded on ``KerasTensor`` s gives, as Keras 3 types it.

NumPy widens where Keras 3 does not: ``mean`` / ``sqrt`` / ``/`` of ``int32`` give ``float64``
in NumPy and ``float32`` (``floatx``) in Keras; ``argmax``, ``sum`` or ``cumsum`` of ``int32``
give ``int64`` in NumPy and ``int32`` in Keras. ``OpLambda`` layers type their outputs with
``keras_dtype`` (symbolically, from a trial run on zeros of the inputs' dtypes) and cast what
they compute to it, so a model's outputs have the dtype its ``KerasTensor`` s announced.
"""

from __future__ import annotations

from typing import Any

from gpunet.backend import floatx

_WIDE = {"float64": None, "int64": "int32"}


def keras_dtype(result: str, inputs: list[str]) -> str:
    """``result`` (the dtype NumPy gave) narrowed as Keras 3 types the op.

    Args:
        result: the computed dtype name.
        inputs: the dtype names of the op's array arguments (Python numbers excluded: they
            are weakly typed in Keras and never widen).

    Returns:
        ``floatx()`` for a ``float64`` result of non-``float64`` inputs, ``"int32"`` for an
        ``int64`` result of inputs without a 64-bit integer, else ``result``.

    Example:

    >>> keras_dtype("float64", ["int32"])
    'float32'
    """
    if result not in _WIDE or result in inputs:
        return result
    if result == "int64" and "uint64" in inputs:
        return result
    return _WIDE[result] or floatx()


def array_dtypes(values: Any) -> list[str]:
    """The dtype names of the arrays / tensors in a nested list / tuple / dict."""
    if isinstance(values, (list, tuple)):
        return [d for v in values for d in array_dtypes(v)]
    if isinstance(values, dict):
        return [d for v in values.values() for d in array_dtypes(v)]
    if hasattr(values, "dtype") and hasattr(values, "shape"):
        return [str(values.dtype)]
    return []


def to_keras_dtypes(out: Any, inputs: list[str]) -> Any:
    """``out`` (a tensor or a list / tuple of them) cast where ``keras_dtype`` narrows it."""
    if isinstance(out, (list, tuple)):
        return type(out)(to_keras_dtypes(o, inputs) for o in out)
    dtype = getattr(out, "dtype", None)
    if dtype is None:
        return out
    want = keras_dtype(str(dtype), inputs)
    if want == str(dtype):
        return out
    from gpunet import ops

    return ops.cast(out, want)
