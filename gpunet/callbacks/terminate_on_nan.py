"""``TerminateOnNaN``: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from gpunet.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stops ``fit`` when ``logs["loss"]`` after a training batch is NaN or infinite.

    Prints ``"Batch b: Invalid loss, terminating training"`` and sets
    ``model.stop_training`` (or raises, with ``raise_error=True``). On the NumPy backend
    ``fit`` itself already refuses a non-finite step before updating the weights; this
    callback also covers the GPU path, where the check would cost a sync per step, and a
    running loss that overflows.

    Args:
        raise_error: raise a ``RuntimeError`` instead of stopping quietly (Keras 3).

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[TerminateOnNaN()])
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"Batch {batch}: Invalid loss ({float(loss)}), terminating "
                               "training")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
