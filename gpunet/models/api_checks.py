"""Argument checks of ``Model.compile`` and ``Model.save`` with Keras 3's rules and messages."""

from __future__ import annotations

import os
from typing import Any


def _is_metric_like(value: Any) -> bool:
    from gpunet.metrics.base import Metric

    return isinstance(value, (str, Metric)) or (callable(value) and not isinstance(value, type))


def _is_loss_like(value: Any) -> bool:
    from gpunet import losses

    if isinstance(value, str):
        try:
            losses.get(value)
        except (ValueError, KeyError, TypeError):
            return False
        return True
    return isinstance(value, getattr(losses, "Loss", ()))


def check_compile_args(optimizer: Any, loss: Any, loss_weights: Any) -> None:
    """Raises a clear error for arguments in tf.keras 2's positional order.

    Keras 3's order is ``compile(optimizer, loss, loss_weights, metrics, ...)``; tf.keras 2
    had ``compile(optimizer, loss, metrics, loss_weights, ...)``, so
    ``compile("adam", "mse", ["accuracy"])`` puts the metrics into ``loss_weights``.

    Raises:
        ValueError: when ``loss_weights`` holds metric names or objects, or when the
            optimizer argument is a loss (and the loss argument an optimizer).
    """
    from gpunet import optimizers

    items = (list(loss_weights.values()) if isinstance(loss_weights, dict) else
             list(loss_weights) if isinstance(loss_weights, (list, tuple)) else [loss_weights])
    if loss_weights is not None and any(_is_metric_like(v) for v in items):
        raise ValueError(
            "compile(): the third positional argument of Keras 3's `compile(optimizer, loss, "
            "loss_weights, metrics, ...)` is `loss_weights`, which must be numbers; received "
            f"loss_weights={loss_weights!r}. It looks like metrics in tf.keras 2's order "
            "(optimizer, loss, metrics): pass them by keyword, "
            f"`compile(optimizer, loss, metrics={loss_weights!r})`.")
    if isinstance(optimizer, str) and _is_loss_like(optimizer):
        try:
            optimizers.get(optimizer)
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"Could not interpret optimizer identifier: {optimizer!r}. It is a loss: "
                "`compile` takes the optimizer first, then the loss, as in "
                f"`compile(optimizer='adam', loss={optimizer!r})`.") from None


def check_save_path(filepath: Any) -> str:
    """``"keras"`` or ``"h5"`` for a ``model.save`` path; other extensions raise as in Keras 3.

    Raises:
        ValueError: Keras 3's message for a path without ``.keras``, ``.h5`` or ``.hdf5``.
    """
    path = os.fspath(filepath) if not isinstance(filepath, str) else filepath
    if path.endswith(".keras"):
        return "keras"
    if path.endswith((".h5", ".hdf5")):
        return "h5"
    raise ValueError(
        "Invalid filepath extension for saving. Please add either a `.keras` extension for "
        "the native Keras format (recommended) or a `.h5` extension. Use "
        "`model.export(filepath)` if you want to export a SavedModel for use with "
        f"TFLite/TFServing/etc. Received: filepath={path}.")
