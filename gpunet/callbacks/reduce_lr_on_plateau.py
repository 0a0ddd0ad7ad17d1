"""``ReduceLROnPlateau``: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from gpunet.callbacks.base import Callback
from gpunet.callbacks.early_stopping import monitor_mode


def current_lr(model: Any, owner: str) -> float:
    """The optimizer's learning rate as a float, rounded through float32 as Keras 3 logs it
    (its learning rate is a float32 variable: 1e-3 logs as 0.0010000000474974513, which the
    progress bar prints as ``0.0010``); errors name the callback if there is none."""
    opt = getattr(model, "optimizer", None)
    if opt is None or not hasattr(opt, "learning_rate"):
        raise ValueError(f"{owner}: the model's optimizer must have a `learning_rate` "
                         f"attribute. Received optimizer: {opt!r}")
    return float(np.float32(float(opt.learning_rate)))


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement.

    Each epoch end it first writes the learning rate used in that epoch to
    ``logs["learning_rate"]``. Then: during cooldown the counter drops by one and ``wait`` is
    reset; an improvement (``current < best - min_delta`` in min mode, ``> best + min_delta``
    in max mode) stores ``best`` and resets ``wait``; otherwise, outside cooldown, ``wait``
    grows and once ``wait >= patience`` the rate becomes ``max(lr * factor, min_lr)`` (only
    if ``lr > min_lr``), cooldown starts and ``wait`` is reset.

    Args:
        monitor: the log key to watch (default ``"val_loss"``).
        factor: the multiplier applied to the learning rate; must be ``< 1``.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the monitor's name).
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the lower bound of the learning rate.

    Example:

    >>> cb = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-4)
    >>> model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[cb])
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any) -> None:
        super().__init__()
        if "epsilon" in kwargs:
            warnings.warn("ReduceLROnPlateau: `epsilon` is deprecated, use `min_delta`.",
                          DeprecationWarning, stacklevel=2)
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau() got unexpected keyword arguments: "
                            f"{sorted(kwargs)}")
        if not factor < 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received: factor={factor}")
        if factor < 0 or patience < 0 or cooldown < 0 or min_lr < 0:
            raise ValueError("ReduceLROnPlateau: `factor`, `patience`, `cooldown` and `min_lr` "
                             f"must be >= 0. Received: factor={factor}, patience={patience}, "
                             f"cooldown={cooldown}, min_lr={min_lr}")
        self.monitor, self.factor, self.patience = monitor, float(factor), patience
        self.verbose, self.min_delta = verbose, abs(float(min_delta))
        self.cooldown, self.min_lr = cooldown, float(min_lr)
        self.mode = monitor_mode(monitor, mode)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        lr = current_lr(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: {','.join(logs)}.",
                          stacklevel=2)
            return
        current = float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and lr > np.float32(self.min_lr):
                new_lr = max(lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
