"""``TensorBoard``: write training curves and weight histograms as TensorBoard event files."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

from gpunet.callbacks._batch_hooks import configure_batch_hooks
from gpunet.callbacks.base import Callback
from gpunet.callbacks.tfevents import EventFileWriter


class TensorBoard(Callback):
    """Logs scalars and histograms for TensorBoard, without TensorFlow.

    Two runs are written: ``<log_dir>/train`` and ``<log_dir>/validation`` (the latter only
    once there are validation logs). At each epoch end, every training log key ``k`` becomes
    the scalar ``epoch_k`` in ``train`` (plus ``epoch_learning_rate``, and
    ``epoch_steps_per_second`` if asked), and every ``val_k`` becomes ``epoch_k`` in
    ``validation``, at step = epoch (0-based); validation logs are also written as
    ``evaluation_k_vs_iterations`` at step = optimizer iterations. With ``update_freq="batch"``
    or an integer ``n``, the running batch logs are written as ``batch_k`` every ``n``
    batches on a batch counter that starts at 1 in each ``fit``. With ``histogram_freq=n``,
    every ``n`` epochs each weight is written as a histogram tagged
    ``<weight path>/histogram`` (e.g. ``dense/kernel/histogram``).

    Args:
        log_dir: the directory of the runs.
        histogram_freq: epochs between weight histograms (0: none).
        write_graph: accepted for compatibility; no graph is written.
        write_images: accepted for compatibility; images are not supported (warns if True).
        write_steps_per_second: also log training steps per second.
        update_freq: ``"epoch"``, ``"batch"`` or an integer number of batches.
        profile_batch: accepted for compatibility; profiling is not supported (warns if set).
        embeddings_freq: accepted for compatibility; not supported (warns if set).
        embeddings_metadata: accepted for compatibility.

    Example:

    >>> tb = TensorBoard(log_dir="logs/run1", histogram_freq=1)
    >>> model.fit(x, y, validation_split=0.2, epochs=5, callbacks=[tb])
    >>> # then: tensorboard --logdir logs
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: Any = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None) -> None:
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(f"TensorBoard: `log_dir` must be a non-empty path. "
                             f"Received: log_dir={log_dir!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) \
                or histogram_freq < 0:
            raise ValueError("TensorBoard: `histogram_freq` must be an integer >= 0. "
                             f"Received: histogram_freq={histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool)
                                       or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError("TensorBoard: `update_freq` must be 'epoch', 'batch' or a positive "
                             f"integer. Received: update_freq={update_freq!r}")
        for name, value, default in (("write_images", write_images, False),
                                     ("profile_batch", profile_batch, 0),
                                     ("embeddings_freq", embeddings_freq, 0)):
            if value not in (default, None):
                warnings.warn(f"TensorBoard: `{name}` is not supported by gpunet and is "
                              f"ignored. Received: {name}={value!r}", stacklevel=2)
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.update_freq = histogram_freq, update_freq
        self.write_graph, self.write_images = write_graph, write_images
        self.write_steps_per_second = write_steps_per_second
        self.profile_batch, self.embeddings_freq = profile_batch, embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict[str, EventFileWriter] = {}
        self._global_train_batch = 0
        self._batch_start = self._epoch_start = 0.0
        self._epoch_start_iterations = 0
        self._tested_at: int | None = None

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        batch_level = self.update_freq != "epoch"
        configure_batch_hooks(self, TensorBoard, begin=batch_level and
                              self.write_steps_per_second, end=batch_level)

    # -- writers ------------------------------------------------------------------------------
    def _writer(self, run: str) -> EventFileWriter:
        w = self._writers.get(run)
        if w is None:
            w = self._writers[run] = EventFileWriter(os.path.join(self.log_dir, run))
        return w

    def _close_writers(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def _iterations(self) -> int:
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0) or 0)

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_start_iterations = self._iterations()
        self._tested_at = None

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        w = self._writer("train")
        for name, value in _scalars(logs):
            w.add_scalar("batch_" + name, value, step)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._batch_start, 1e-9)
            w.add_scalar("batch_steps_per_second", 1.0 / elapsed, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and hasattr(opt, "learning_rate"):
            train["learning_rate"] = float(opt.learning_rate)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start, 1e-9)
            train["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) \
                / elapsed
        w = self._writer("train")
        for name, value in _scalars(train):
            w.add_scalar("epoch_" + name, value, epoch)
        if val:
            vw = self._writer("validation")
            for name, value in _scalars(val):
                vw.add_scalar("epoch_" + name, value, epoch)
            if self._tested_at is None:
                self._log_evaluation(val)
            vw.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        w.flush()

    def on_test_end(self, logs=None):
        if logs:
            self._log_evaluation(logs)
            self._writer("validation").flush()

    def _log_evaluation(self, logs: dict) -> None:
        step = self._tested_at = self._iterations()
        vw = self._writer("validation")
        for name, value in _scalars(logs):
            vw.add_scalar(f"evaluation_{name}_vs_iterations", value, step)

    def _log_weights(self, epoch: int) -> None:
        w = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = getattr(weight, "path", None) or weight.name
                w.add_histogram(f"{name.replace(':', '_')}/histogram", weight.data, epoch)


def _scalars(logs):
    """The scalar entries of ``logs``; a vector metric (per-class F1) has no scalar summary."""
    return [(k, v) for k, v in (logs or {}).items() if not getattr(v, "ndim", 0)]
