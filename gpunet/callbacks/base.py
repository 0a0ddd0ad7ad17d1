"""``Callback`` (every Keras hook) and ``CallbackList``, which dispatches to many."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Callback:
    """Base class of callbacks. Override any hook; ``self.model`` and ``self.params`` are set.

    Hooks: ``on_{train,test,predict}_{begin,end}(logs)``, ``on_epoch_{begin,end}(epoch, logs)``,
    ``on_{train,test,predict}_batch_{begin,end}(batch, logs)``.
    """

    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def on_batch_begin(self, batch, logs=None):
        """Keras 2 alias of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Keras 2 alias of ``on_train_batch_end``."""


_HOOKS = [
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
    "on_test_end", "on_predict_begin", "on_predict_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
]


def _overrides(cb: Callback, name: str) -> bool:
    return getattr(type(cb), name, None) is not getattr(Callback, name, None)


def as_callback_list(callbacks: Any) -> list:
    """``callbacks`` as a list: None, one ``Callback`` (Keras 3 accepts it without a list), a
    list/tuple of them, or a ``CallbackList``.

    Raises:
        TypeError: when an entry is not a ``Callback``.
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, CallbackList):
        return list(callbacks.callbacks)
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError("`callbacks` must be a Callback or a list of Callback instances. "
                        f"Received: callbacks={callbacks!r}")
    out = list(callbacks)
    for cb in out:
        if not isinstance(cb, Callback):
            raise TypeError("`callbacks` must hold Callback instances (subclasses of "
                            f"gpunet.callbacks.Callback). Received: {cb!r}")
    return out


class CallbackList:
    """Dispatches every hook to a list of callbacks, skipping those that do not override it.

    ``logs`` reaches every hook as a dict (``{}`` where there are none) with its keys sorted,
    as in Keras 3 (``pythonify_logs``).

    Batch hooks of callbacks that do not override them cost nothing per step.
    """

    def __init__(self, callbacks: Sequence[Callback] | None = None, model: Any = None,
                 **params: Any) -> None:
        self.callbacks = as_callback_list(callbacks)
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            cb.set_params(params)
        for name in _HOOKS:
            targets = [getattr(cb, name) for cb in self.callbacks if _overrides(cb, name)]
            setattr(self, name, _fanout(targets, name not in _NO_INDEX))
        begin = [cb for cb in self.callbacks
                 if _overrides(cb, "on_train_batch_begin") or _overrides(cb, "on_batch_begin")]
        end = [cb for cb in self.callbacks
               if _overrides(cb, "on_train_batch_end") or _overrides(cb, "on_batch_end")]
        self.on_train_batch_begin = _fanout(
            [f for cb in begin for f in (cb.on_train_batch_begin, cb.on_batch_begin)], True)
        self.on_train_batch_end = _fanout(
            [f for cb in end for f in (cb.on_train_batch_end, cb.on_batch_end)], True)
        self.wants_train_batch_end = bool(end)
        self.wants_train_batch_begin = bool(begin)
        # evaluate builds per-batch logs (a host read on a GPU) only when someone reads them
        self.wants_test_batch_end = any(_overrides(cb, "on_test_batch_end")
                                        for cb in self.callbacks)
        self.wants_predict_batch_end = any(_overrides(cb, "on_predict_batch_end")
                                           for cb in self.callbacks)

    def append(self, cb: Callback) -> None:
        self.callbacks.append(cb)


def pythonify_logs(logs: Any) -> dict:
    """``logs`` as Keras 3's ``CallbackList`` hands them to every hook: a new dict with the
    keys in sorted order, nested dicts merged in, and scalar values as Python floats (a
    vector metric's array, or predict's ``outputs``, stays as it is).

    Args:
        logs: a dict of logs, or ``None``.

    Returns:
        The new dict (``{}`` for ``None``).

    Example:

    >>> pythonify_logs({"loss": 0.5, "accuracy": 1})
    {'accuracy': 1.0, 'loss': 0.5}
    """
    result: dict = {}
    for key, value in sorted((logs or {}).items(), key=lambda kv: str(kv[0])):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        if not isinstance(value, (str, bytes)) and getattr(value, "ndim", 0) == 0:
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        result[key] = value
    return result


_NO_INDEX = {"on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
             "on_predict_begin", "on_predict_end"}


def _fanout(fns, indexed: bool):
    """One callable calling every ``fns`` with the logs as Keras 3 passes them (a new dict,
    sorted keys, ``{}`` where the loop has no logs: ``pythonify_logs``); it returns that dict,
    so the loop can show what the callbacks saw (and added, e.g. ``learning_rate``)."""
    if not fns:
        if indexed:
            return lambda index, logs=None: pythonify_logs(logs) if logs else {}
        return lambda logs=None: pythonify_logs(logs) if logs else {}
    if indexed:
        def call(index, logs=None):
            logs = pythonify_logs(logs)
            for f in fns:
                f(index, logs)
            return logs
    else:
        def call(logs=None):
            logs = pythonify_logs(logs)
            for f in fns:
                f(logs)
            return logs

    return call
