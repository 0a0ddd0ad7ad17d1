"""``EarlyStopping``: stop training when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

from gpunet.callbacks.base import Callback


def monitor_mode(monitor: str, mode: str) -> str:
    """Resolves ``"auto"`` to ``"min"`` or ``"max"`` from the monitored name (Keras 2 rule)."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"Mode {mode!r} is unknown, falling back to 'auto'.", stacklevel=3)
        mode = "auto"
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    maxish = ("acc", "accuracy", "auc", "precision", "recall", "f1_score")
    return "max" if any(name.endswith(s) for s in maxish) else "min"


class EarlyStopping(Callback):
    """Stops ``fit`` when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the log key to watch (default ``"val_loss"``).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a message when stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the monitor's name).
        baseline: a value the monitor must beat for the patience counter to reset.
        restore_best_weights: at the end of training, restore the weights of the best epoch
            (also when training ran to completion, as current Keras does).
        start_from_epoch: epochs to wait before monitoring starts.

    Example:

    >>> cb = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[cb])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = abs(min_delta) if self.mode == "max" else -abs(min_delta)

    def _better(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "max":
            return current - self.min_delta > reference
        return current - self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs or {})}",
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if current == current and self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
