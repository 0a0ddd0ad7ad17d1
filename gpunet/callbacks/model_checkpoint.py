"""``ModelCheckpoint``: save the model (or its weights) every epoch or every N batches."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from gpunet.callbacks._batch_hooks import configure_batch_hooks
from gpunet.callbacks._training_state import nonfinite
from gpunet.callbacks.base import Callback
from gpunet.callbacks.early_stopping import monitor_mode


def check_save_freq(save_freq: Any, owner: str) -> Any:
    """Validates ``save_freq``: ``"epoch"`` or a positive integer number of batches."""
    if save_freq == "epoch":
        return save_freq
    if isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1:
        raise ValueError(f"{owner}: unrecognized `save_freq`. Expected 'epoch' or a positive "
                         f"integer number of batches. Received: save_freq={save_freq!r}")
    return save_freq


class ModelCheckpoint(Callback):
    """Saves the model or its weights during training.

    Args:
        filepath: where to save; ``str.format``-ed with ``epoch`` (1-based), ``batch``
            (1-based, batch-level saves only) and every key of the logs, e.g.
            ``"ckpt/w.{epoch:02d}-{val_loss:.2f}.h5"``. Missing directories are created.
        monitor: the log key compared when ``save_best_only`` (default ``"val_loss"``).
        verbose: 1 prints a line per save decision.
        save_best_only: save only when ``monitor`` improves on the best value so far (a NaN
            value never improves; a missing one saves anyway, with a warning).
        save_weights_only: ``model.save_weights`` instead of ``model.save``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the monitor's name).
        save_freq: ``"epoch"`` or an integer: save after every that many batches.
        initial_value_threshold: the best value to beat at the start (``save_best_only``).

    A model whose weights hold NaN or Inf is never saved: the save is skipped with a warning
    naming the file, the previous file stays, and ``save_best_only``'s best value is left as
    it was.

    Example:

    >>> cb = ModelCheckpoint("ckpt/best.h5", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[cb])
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None, **kwargs: Any) -> None:
        super().__init__()
        if "period" in kwargs:  # Keras 2's deprecated spelling: save every `period` epochs
            raise TypeError("ModelCheckpoint: `period` is not supported; use `save_freq` "
                            f"(an integer counts batches). Received: period={kwargs['period']}")
        if kwargs:
            raise TypeError(f"ModelCheckpoint() got unexpected keyword arguments: {sorted(kwargs)}")
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ValueError("ModelCheckpoint: `filepath` must be a non-empty path. "
                             f"Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = monitor_mode(monitor, mode)
        self.save_freq = check_save_freq(save_freq, "ModelCheckpoint")
        self.initial_value_threshold = initial_value_threshold
        self.best = None if initial_value_threshold is None else float(initial_value_threshold)
        self._current_epoch = 0
        self._batches_since_save = 0

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        configure_batch_hooks(self, ModelCheckpoint, begin=False, end=self.save_freq != "epoch")

    def on_train_begin(self, logs=None):
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    # -- helpers ------------------------------------------------------------------------------
    def _is_improvement(self, current: float) -> bool:
        if math.isnan(current):
            return False
        if self.best is None:
            return True
        return current < self.best if self.mode == "min" else current > self.best

    def _file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: no "
                           f"value for {e}. Available keys: {sorted(fields)}") from None

    def _should_save(self, epoch: int, logs: dict, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping "
                          "the comparison and saving.", stacklevel=3)
            return True
        current = float(current)
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = logs or {}
        filepath = self._file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IsADirectoryError("Please specify a non-directory filepath for "
                                    f"ModelCheckpoint. Filepath used is an existing directory: "
                                    f"{filepath}")
        bad = nonfinite(self.model)
        if bad:
            warnings.warn(
                f"Epoch {epoch + 1}: the model's weights hold NaN or Inf (in "
                f"{', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); skipping the save to "
                f"{filepath}. The previous file, if any, is kept.", stacklevel=3)
            return
        if not self._should_save(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
