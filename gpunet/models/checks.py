"""Argument and data checks of ``fit`` / ``evaluate`` / ``predict``, made once per call."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import to_numpy


def positive_int(name: str, value: Any, where: str, allow_none: bool = True) -> Any:
    """``value`` if it is an integer >= 1 (or None when allowed), else a ValueError.

    Args:
        name: the argument's name (``"batch_size"``, ``"steps_per_epoch"``...).
        value: what the caller passed.
        where: the method, for the message (``"fit"``).
        allow_none: whether None is accepted.

    Returns:
        ``value`` as a Python int, or None.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{where}(): `{name}` must be a positive integer{extra}. "
                         f"Received: {name}={value!r}")
    return int(value)


def check_real(name: str, value: Any) -> None:
    """Raises a TypeError when ``value`` is a complex array (its imaginary part would be
    dropped silently by a cast to a float dtype)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None and isinstance(value, (list, tuple, complex)):
        try:
            dtype = np.asarray(value).dtype
        except (ValueError, TypeError):
            return
    if dtype is not None and np.dtype(dtype).kind == "c":
        raise TypeError(f"`{name}` holds complex numbers (dtype {dtype}); gpunet trains on "
                        "real numbers only and will not drop the imaginary part. Pass "
                        "`np.real(...)` or `np.abs(...)` explicitly.")


def _sparse_loss(model) -> bool:
    from gpunet import losses as losses_mod

    lc = getattr(model, "_loss", None)
    fn = getattr(lc, "fn", None)
    inner = getattr(fn, "fn", fn)
    return inner is losses_mod.sparse_categorical_crossentropy and getattr(
        fn, "fn_kwargs", {}).get("ignore_class") is None


def target_checker(model) -> Any:
    """For generators: a function ``(host_y, where)`` checking each batch's sparse labels on
    the host before its copy to the device, or None when the loss takes any targets."""
    if not _sparse_loss(model):
        return None

    def check(y: Any, where: str) -> None:
        try:
            check_sparse_labels(model, y)
        except ValueError as e:
            raise ValueError(f"{where[0].upper()}{where[1:]}: {e}") from None

    return check


def check_sparse_labels(model, y: Any) -> None:
    """Sparse labels must be integers in ``[0, units)``: checked once per call on the whole
    array (a per-batch check would sync every step on a GPU)."""
    if y is None or not _sparse_loss(model):
        return
    labels = to_numpy(y)
    if labels.size == 0 or labels.dtype.kind not in "iuf":
        return
    if labels.dtype.kind == "f":
        frac = labels[np.isfinite(labels)]
        bad = frac[frac != np.round(frac)] if frac.size else frac
        if bad.size or frac.size != labels.size:
            value = float(bad.flat[0] if bad.size else labels[~np.isfinite(labels)].flat[0])
            raise ValueError(
                f"Received a label value of {value!r} for loss "
                "'sparse_categorical_crossentropy', which expects integer class indices; "
                "a non-integer label would be truncated. Round or cast `y` explicitly.")
    try:
        units = (getattr(model, "output_shape", None) or (None,))[-1]
    except (AttributeError, ValueError, NotImplementedError, TypeError):
        units = None
    if not units:
        return
    lo, hi = labels.min(), labels.max()
    if lo < 0 or hi >= units:
        raise ValueError(
            f"Received a label value of {int(lo if lo < 0 else hi)} which is outside the valid "
            f"range of [0, {units - 1}] for loss 'sparse_categorical_crossentropy' "
            f"(predictions have {units} classes).")
