"""``LearningRateScheduler``: set the learning rate from a function of the epoch."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from gpunet.callbacks.base import Callback
from gpunet.callbacks.reduce_lr_on_plateau import current_lr


def _takes_two_args(fn: Callable) -> bool | None:
    """Whether ``fn(epoch, lr)`` is a valid call; ``None`` when the signature is unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(0, 0.0)
        return True
    except TypeError:
        return False


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to ``schedule(epoch, lr)``.

    ``epoch`` is 0-based and ``lr`` is the current rate; a one-argument ``schedule(epoch)``
    is accepted too. The result must be a float. The rate used in each epoch is written to
    ``logs["learning_rate"]`` at its end (so it shows up in ``History``).

    Args:
        schedule: a function ``(epoch, lr) -> float`` or ``(epoch) -> float``.
        verbose: 1 prints the rate set at each epoch.

    Example:

    >>> def scheduler(epoch, lr):
    ...     return lr if epoch < 10 else lr * 0.9
    >>> model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)])
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ValueError("LearningRateScheduler: `schedule` must be a function "
                             f"(epoch, lr) -> float. Received: schedule={schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._two_args = _takes_two_args(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        lr = current_lr(self.model, "LearningRateScheduler")
        if self._two_args is None:
            try:
                new_lr = self.schedule(epoch, lr)
            except TypeError:  # unknown signature: the Keras fallback to schedule(epoch)
                new_lr = self.schedule(epoch)
        elif self._two_args:
            new_lr = self.schedule(epoch, lr)
        else:
            new_lr = self.schedule(epoch)
        if not isinstance(new_lr, (float, np.floating)):
            raise ValueError("LearningRateScheduler: the output of the `schedule` function "
                             f"should be a float. Got: {new_lr!r} "
                             f"({type(new_lr).__name__}) at epoch {epoch}")
        self.model.optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_lr(self.model, "LearningRateScheduler")
