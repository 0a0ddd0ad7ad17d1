"""``TerminateOnNaN``: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from gpunet.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Terminates training when a NaN or Inf loss is encountered (Keras 3 semantics).

    After each training batch, ``logs["loss"]`` is checked. By default training stops
    gracefully: ``"Batch b: Invalid loss, terminating training"`` is printed and
    ``model.stop_training`` is set, so the epoch ends and every callback's ``on_train_end``
    runs. With ``raise_error=True`` a ``RuntimeError`` is raised at once instead, bypassing
    the other callbacks' cleanup (``on_train_end`` is not called): a ``BackupAndRestore``
    backup, for instance, is kept for a later resume.

    Args:
        raise_error: raise a ``RuntimeError`` instead of stopping gracefully.

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[TerminateOnNaN()])
    >>> model.fit(x, y, epochs=10, callbacks=[TerminateOnNaN(raise_error=True)])
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                               f"{float(loss)}. Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
