"""``BackupAndRestore``: resume an interrupted ``fit`` from its last backup."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from typing import Any

import numpy as np

from gpunet.callbacks import _backup_files as files
from gpunet.callbacks._batch_hooks import configure_batch_hooks
from gpunet.callbacks._dir_lock import DirLock
from gpunet.callbacks._training_state import nonfinite, random_state, set_random_state
from gpunet.callbacks.base import Callback
from gpunet.callbacks.model_checkpoint import check_save_freq


class BackupAndRestore(Callback):
    """Backs up the training state so that a ``fit`` interrupted by an error or a kill can
    resume where it stopped.

    A backup holds the model's weights, the optimizer's state (iteration count, slots such as
    momentum, and a plain-float learning rate), the epoch reached and the random state (the
    shuffling of the data, the ``Dropout`` masks of seeded and unseeded layers, the host
    generators). ``fit`` called again with a callback on the same ``backup_dir`` (in the same
    or a new process, on a model of the same architecture) restores that state in
    ``on_train_begin`` and continues from that epoch. With epoch backups the resumed run gives
    the same weights as an uninterrupted one, bit for bit, ``shuffle=True`` and ``Dropout``
    included (for in-memory data whose epochs are whole passes, i.e. without a
    ``steps_per_epoch`` that splits a pass). An epoch interrupted part-way (batch-level
    backups) is re-run from its start with the backed up weights and the random state of
    that epoch's start, as Keras does. On a GPU, cuRAND cannot export its state, so each
    backup re-keys the device generators from themselves (a seed drawn from each): runs
    with the callback agree with each other, though they draw other (equally random)
    numbers than a run without it.

    Each backup is committed by an atomic rename of ``training_metadata.json``, so a crash
    while saving leaves the previous backup usable. The folder belongs to one run at a time:
    ``on_train_begin`` locks it (``backup.lock``, naming the owner's pid; a lock left by a
    killed process is taken over), and a second process using it gets a ``RuntimeError``.
    Files the callback did not write are never read or removed: the metadata may name a
    checkpoint only as a plain ``ckpt-<n>``, anything else (a path such as
    ``"../outside"``, a link) is refused with a ``ValueError`` before anything is loaded or
    deleted. Checkpoints left over by a killed run and stale temporary files are removed
    when the next run starts and after every backup. Weights or optimizer slots that hold
    NaN or Inf are never backed up: the backup is skipped with a warning and the previous
    one kept. When ``fit`` ends normally with ``delete_checkpoint=True``, every file of the
    callback is removed, and the folder too when nothing else is left in it.

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
        self._metadata_path = os.path.join(self.backup_dir, files.METADATA)
        self._lock = DirLock(self.backup_dir, "BackupAndRestore")
        self._current_epoch = 0
        self._batches_since_save = 0
        self._counter = 0
        self._epoch_rng: dict | None = None  # the random state at the current epoch's start
        self._restored_rng: dict | None = None

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        configure_batch_hooks(self, BackupAndRestore, begin=False,
                              end=self.save_freq != "epoch")

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        self._restored_rng = None
        self._lock.acquire()
        try:
            meta = files.read_metadata(self.backup_dir)
            files.clean(self.backup_dir, keep=files.referenced(meta))
            if meta is not None:
                self._counter = int(meta.get("counter", 0))
                self._restore_any(meta)
        except BaseException:
            self._lock.release()
            raise

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        if self.save_freq != "epoch":
            self._epoch_rng, self._restored_rng = (
                self._restored_rng or random_state(self.model), None)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, self._epoch_rng)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(epoch + 1, None, random_state(self.model))

    def on_train_end(self, logs=None):
        try:
            if self.delete_checkpoint:
                files.clean(self.backup_dir, keep=set(), everything=True)
            else:
                files.clean(self.backup_dir, keep=files.referenced(
                    files.read_metadata(self.backup_dir)))
        finally:
            self._lock.release()
        if self.delete_checkpoint:
            with contextlib.suppress(OSError):  # not empty: it holds files that are not ours
                os.rmdir(self.backup_dir)

    # -- storage ------------------------------------------------------------------------------
    def _save(self, epoch: int, batch: int | None, rng: dict | None) -> None:
        """Writes a new checkpoint, then commits it by replacing the metadata file."""
        opt = self.model.optimizer
        slots = opt.get_slot_arrays() if opt is not None and opt._groups else []
        bad = nonfinite(self.model, slots)
        if bad:
            warnings.warn(
                f"BackupAndRestore: not backing up at epoch {epoch if batch is None else epoch + 1}"
                f"{'' if batch is None else f', batch {batch}'}: the weights hold NaN or Inf "
                f"(in {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}). The previous "
                f"backup in {self.backup_dir!r}, if any, is kept.", stacklevel=3)
            return
        self._lock.acquire()
        old = files.read_metadata(self.backup_dir) or {}
        self._counter += 1
        name = f"ckpt-{self._counter}"
        weights_path, opt_path = files.checkpoint_paths(self.backup_dir, name)
        self.model.save_weights(weights_path, overwrite=True)
        entry: dict[str, Any] = {"checkpoint": name, "epoch": int(epoch), "batch": batch}
        if opt is not None:
            files.atomic_write(opt_path, lambda f: np.savez(
                f, **{f"slot_{i}": a for i, (_, a) in enumerate(slots)}))
            entry["iterations"] = int(opt.iterations)
            lr = opt._learning_rate
            if isinstance(lr, (int, float, np.floating)) and not isinstance(lr, bool):
                entry["learning_rate"] = float(lr)
        if rng is not None:
            entry["random_state"] = rng
        previous = old.get("latest") if self.double_checkpoint else None
        meta = {"epoch": entry["epoch"], "batch": batch, "counter": self._counter,
                "latest": entry, "previous": previous}
        files.atomic_write(self._metadata_path, lambda f: json.dump(meta, f), mode="w")
        files.clean(self.backup_dir, keep=files.referenced(meta))

    def _restore_any(self, meta: dict) -> None:
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
                              f"{entry['checkpoint']!r} in {self.backup_dir!r} ({e}).",
                              stacklevel=3)
        raise ValueError(f"BackupAndRestore: the backup in {self.backup_dir!r} cannot be "
                         f"restored: {error}")

    def _restore(self, entry: dict) -> None:
        weights_path, opt_path = files.checkpoint_paths(self.backup_dir, entry["checkpoint"])
        for p in (weights_path, opt_path):
            if os.path.islink(p):
                raise ValueError(f"{p!r} is a link; a backup holds only regular files")
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
        if entry.get("random_state") is not None:
            set_random_state(self.model, entry["random_state"], self._metadata_path)
            self._restored_rng = entry["random_state"]
        self.model._initial_epoch = int(entry["epoch"])
