"""``BackupAndRestore``: resume an interrupted ``fit`` from its last backup."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from gpunet.callbacks._batch_hooks import configure_batch_hooks
from gpunet.callbacks.base import Callback
from gpunet.callbacks.model_checkpoint import check_save_freq

_METADATA = "training_metadata.json"


def _atomic(path: str, write) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class BackupAndRestore(Callback):
    """Backs up the training state so that a ``fit`` interrupted by an error or a kill can
    resume where it stopped.

    A backup holds the model's weights, the optimizer's state (iteration count, slots such as
    momentum, and a plain-float learning rate) and the epoch reached. ``fit`` called again with
    a callback on the same ``backup_dir`` (in the same or a new process, on a model of the same
    architecture) restores that state in ``on_train_begin`` and continues from that epoch; an
    epoch interrupted part-way (batch-level backups) is re-run from its start with the backed
    up weights. Each backup is committed by an atomic rename of ``training_metadata.json``, so
    a crash while saving leaves the previous backup usable. When ``fit`` ends normally the
    backup is deleted (``delete_checkpoint=True``).

    Args:
        backup_dir: the directory holding the backup (created if missing).
        save_freq: ``"epoch"`` (back up at every epoch end) or an integer number of batches.
        double_checkpoint: also keep the previous backup, used if the latest cannot be read.
        delete_checkpoint: delete the backup when training finishes.

    Example:

    >>> cb = BackupAndRestore(backup_dir="/tmp/backup")
    >>> model.fit(x, y, epochs=10, callbacks=[cb])   # killed during epoch 4
    >>> model.fit(x, y, epochs=10, callbacks=[cb])   # resumes at epoch 4
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ValueError("BackupAndRestore: `backup_dir` must be a non-empty path. "
                             f"Received: backup_dir={backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = check_save_freq(save_freq, "BackupAndRestore")
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._current_epoch = 0
        self._batches_since_save = 0
        self._counter = 0

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        configure_batch_hooks(self, BackupAndRestore, begin=False,
                              end=self.save_freq != "epoch")

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        meta = self._read_metadata()
        if meta is None:
            return
        self._counter = int(meta.get("counter", 0))
        error = None
        for entry in (meta.get("latest"), meta.get("previous")):
            if not entry:
                continue
            try:
                self._restore(entry)
                return
            except (OSError, ValueError, KeyError) as e:
                error = e
                warnings.warn(f"BackupAndRestore: could not restore backup "
                              f"{entry.get('checkpoint')!r} in {self.backup_dir!r} ({e}).",
                              stacklevel=2)
        raise ValueError(f"BackupAndRestore: the backup in {self.backup_dir!r} cannot be "
                         f"restored: {error}")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(epoch + 1, None)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not os.path.isdir(self.backup_dir):
            return
        meta = self._read_metadata() or {}
        if os.path.exists(self._metadata_path):
            os.unlink(self._metadata_path)
        for entry in (meta.get("latest"), meta.get("previous")):
            if entry:
                self._remove(entry["checkpoint"])
        try:
            os.rmdir(self.backup_dir)
        except OSError:  # not empty: it holds files that are not ours
            pass

    # -- storage ------------------------------------------------------------------------------
    def _paths(self, name: str) -> tuple[str, str]:
        base = os.path.join(self.backup_dir, name)
        return base + ".weights.h5", base + ".optimizer.npz"

    def _remove(self, name: str) -> None:
        for p in self._paths(name):
            if os.path.exists(p):
                os.unlink(p)

    def _read_metadata(self) -> dict | None:
        if not os.path.exists(self._metadata_path):
            return None
        try:
            with open(self._metadata_path, encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"BackupAndRestore: cannot read {self._metadata_path!r} ({e}). "
                             "Delete the backup directory to start afresh.") from None
        return meta if isinstance(meta, dict) else None

    def _save(self, epoch: int, batch: int | None) -> None:
        """Writes a new checkpoint, then commits it by replacing the metadata file."""
        os.makedirs(self.backup_dir, exist_ok=True)
        old = self._read_metadata() or {}
        self._counter += 1
        name = f"ckpt-{self._counter}"
        weights_path, opt_path = self._paths(name)
        self.model.save_weights(weights_path, overwrite=True)
        entry: dict[str, Any] = {"checkpoint": name, "epoch": int(epoch), "batch": batch}
        opt = self.model.optimizer
        if opt is not None:
            slots = [a for _, a in opt.get_slot_arrays()] if opt._groups else []

            def write_npz(p):
                with open(p, "wb") as f:
                    np.savez(f, **{f"slot_{i}": a for i, a in enumerate(slots)})

            _atomic(opt_path, write_npz)
            entry["iterations"] = int(opt.iterations)
            lr = opt._learning_rate
            if isinstance(lr, (int, float, np.floating)) and not isinstance(lr, bool):
                entry["learning_rate"] = float(lr)
        previous = old.get("latest") if self.double_checkpoint else None
        meta = {"epoch": entry["epoch"], "batch": batch, "counter": self._counter,
                "latest": entry, "previous": previous}

        def write_json(p):
            with open(p, "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
                f.flush()
                os.fsync(f.fileno())

        _atomic(self._metadata_path, write_json)
        keep = {name, (previous or {}).get("checkpoint")}
        for stale in (old.get("latest"), old.get("previous")):
            if stale and stale["checkpoint"] not in keep:
                self._remove(stale["checkpoint"])

    def _restore(self, entry: dict) -> None:
        weights_path, opt_path = self._paths(entry["checkpoint"])
        self.model.load_weights(weights_path)
        opt = self.model.optimizer
        if opt is not None and os.path.exists(opt_path):
            with np.load(opt_path) as z:
                slots = [z[f"slot_{i}"] for i in range(len(z.files))]
            if slots or opt._groups:
                opt.set_slot_arrays(slots)
            opt.iterations = int(entry.get("iterations", opt.iterations))
            if "learning_rate" in entry:
                opt.learning_rate = float(entry["learning_rate"])
        self.model._initial_epoch = int(entry["epoch"])
