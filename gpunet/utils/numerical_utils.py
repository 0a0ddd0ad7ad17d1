"""Numerical helpers on host (NumPy) arrays: one-hot encoding and L-p normalisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import backend_of, to_numpy

__all__ = ["to_categorical", "normalize"]


def _to_host(x: Any) -> Any:
    """Brings device arrays (CuPy, or tensors with ``.numpy()``) to a host value."""
    if not backend_of(x).is_host:
        return to_numpy(x)
    numpy_fn = getattr(x, "numpy", None)
    if callable(numpy_fn) and not isinstance(x, np.ndarray | np.generic):
        return numpy_fn()
    return x


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """Converts a class vector (integers) to a binary class matrix (one-hot encoding).

    For use with `categorical_crossentropy`. As in Keras, a trailing axis of size 1 is
    dropped before encoding, so labels of shape `(N, 1)` give an output of shape
    `(N, num_classes)`.

    Args:
        y: array-like of class indices, integers from `0` to `num_classes - 1`. Floats are
            accepted when they hold integral values (e.g. `2.0`).
        num_classes: total number of classes. If `None`, it is inferred as `max(y) + 1`.
        dtype: dtype of the output. Defaults to `"float32"`.

    Returns:
        A NumPy array of shape `y.shape + (num_classes,)` (after dropping a trailing size-1
        axis), with the class axis last.

    Raises:
        ValueError: if a label is negative or not below `num_classes`, if a label is not an
            integer, or if `num_classes` is not a positive integer.

    Example:

    >>> to_categorical([0, 1, 2, 3], num_classes=4)
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 1., 0.],
           [0., 0., 0., 1.]], dtype=float32)
    >>> to_categorical(np.array([[1], [0]])).shape
    (2, 2)
    """
    y = np.asarray(_to_host(y))
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if y.size and not np.all(np.isfinite(y)):
            bad = y[~np.isfinite(y)].flat[0]
            raise ValueError(
                f"`y` must contain integer class indices. Received the non-finite value {bad}"
            )
        non_integral = y != np.round(y)
        if np.any(non_integral):
            raise ValueError(
                "`y` must contain integer class indices. Received the non-integer value "
                f"{y[non_integral].flat[0]}"
            )
    elif y.dtype.kind not in "iu":
        raise ValueError(
            f"`y` must contain integer class indices. Received an array of dtype {y.dtype}"
        )
    y = y.astype(np.int64)

    input_shape = y.shape
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    y = y.reshape(-1)

    if num_classes is None:
        if y.size == 0:
            raise ValueError(
                "`num_classes` cannot be inferred from an empty `y`; pass `num_classes`."
            )
        num_classes = int(y.max()) + 1
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
            raise ValueError(
                f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}"
            )
        num_classes = int(num_classes)
        if num_classes <= 0:
            raise ValueError(
                f"`num_classes` must be a positive integer. Received: num_classes={num_classes}"
            )

    if y.size:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0:
            raise ValueError(
                f"`y` contains the negative label {lo}; labels must be in [0, num_classes) "
                f"with num_classes={num_classes}"
            )
        if hi >= num_classes:
            raise ValueError(
                f"`y` contains the label {hi}, which is out of range for "
                f"num_classes={num_classes} (labels must be in [0, {num_classes - 1}])"
            )

    categorical = np.zeros((y.shape[0], num_classes), dtype=dtype)
    categorical[np.arange(y.shape[0]), y] = 1
    return categorical.reshape(input_shape + (num_classes,))


def normalize(x: Any, axis: int | None = -1, order: float = 2) -> np.ndarray:
    """Normalises an array to unit L-p norm along an axis.

    Slices whose norm is zero are left unchanged (they stay zero) instead of producing NaN.

    Args:
        x: array-like to normalise.
        axis: axis along which to normalise. `None` normalises the whole (flattened) array.
            Defaults to `-1`.
        order: order of the norm, `p >= 1` or `np.inf` (e.g. `order=2` for the L2 norm,
            `order=1` for L1). Defaults to `2`.

    Returns:
        A normalised copy of `x`, with the same shape. Floating inputs keep their dtype;
        other inputs are returned as `float32`.

    Example:

    >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    >>> normalize(np.array([[1.0, 3.0]]), order=1)
    array([[0.25, 0.75]])
    """
    x = np.asarray(_to_host(x))
    if x.dtype.kind not in "fc":
        x = x.astype(np.float32)
    if isinstance(order, bool) or not isinstance(order, int | float | np.integer | np.floating):
        raise ValueError(f"`order` must be a number >= 1 or np.inf. Received: order={order!r}")
    if not (order >= 1):
        raise ValueError(f"`order` must be a number >= 1 or np.inf. Received: order={order}")
    if x.ndim == 0:
        raise ValueError(f"`x` must have at least one dimension. Received: shape {x.shape}")
    if axis is None:
        norm = np.linalg.norm(x.reshape(-1), ord=order)
        norm = np.asarray(norm if norm != 0 else 1, dtype=x.real.dtype)
    else:
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(
                f"`axis` must be in [{-x.ndim}, {x.ndim - 1}] for an input of rank {x.ndim}. "
                f"Received: axis={axis}"
            )
        norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
        norm = np.where(norm == 0, 1, norm).astype(x.real.dtype, copy=False)
    return (x / norm).astype(x.dtype, copy=False)
