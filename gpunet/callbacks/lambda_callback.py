"""``LambdaCallback``: a callback built from plain functions."""

from __future__ import annotations

from collections.abc import Callable

from gpunet.callbacks.base import Callback

_INDEXED = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
            "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
            "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
_PLAIN = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")


def _indexed_hook(fn: Callable):
    def hook(self, index, logs=None):
        return fn(index, logs)

    return hook


def _plain_hook(fn: Callable):
    def hook(self, logs=None):
        return fn(logs)

    return hook


class LambdaCallback(Callback):
    """Calls the given functions at the matching points of training.

    Epoch and batch functions receive ``(epoch_or_batch, logs)``; begin/end functions
    receive ``(logs)``. ``logs`` may be ``None``.

    Args:
        on_epoch_begin: ``fn(epoch, logs)`` at the start of every epoch.
        on_epoch_end: ``fn(epoch, logs)`` at the end of every epoch.
        on_batch_begin: ``fn(batch, logs)`` before every training batch.
        on_batch_end: ``fn(batch, logs)`` after every training batch.
        on_train_begin: ``fn(logs)`` when training starts.
        on_train_end: ``fn(logs)`` when training ends.
        **kwargs: any other hook by name (``on_train_batch_end``, ``on_test_begin``,
            ``on_predict_batch_end``, ...).

    Only the given hooks are installed, so e.g. no batch function means ``fit`` skips the
    per-batch logs.

    Example:

    >>> print_epoch = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs))
    >>> model.fit(x, y, epochs=3, callbacks=[print_epoch])
    """

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_batch_begin: Callable | None = None,
                 on_batch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None, **kwargs: Callable) -> None:
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_batch_begin": on_batch_begin, "on_batch_end": on_batch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end}
        unknown = sorted(k for k in kwargs if k not in _INDEXED + _PLAIN)
        if unknown:
            raise TypeError(f"LambdaCallback() got unexpected keyword arguments: {unknown}. "
                            f"Hooks are: {sorted(_INDEXED + _PLAIN)}")
        hooks.update(kwargs)
        ns = {}
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: `{name}` must be callable. "
                                f"Received: {name}={fn!r}")
            ns[name] = _indexed_hook(fn) if name in _INDEXED else _plain_hook(fn)
        if ns:  # a per-instance subclass, so ``CallbackList`` sees exactly these overrides
            ns.update(__module__=LambdaCallback.__module__,
                      __qualname__=LambdaCallback.__qualname__, __doc__=LambdaCallback.__doc__)
            self.__class__ = type("LambdaCallback", (type(self),), ns)
        self.functions = {k: v for k, v in hooks.items() if v is not None}
