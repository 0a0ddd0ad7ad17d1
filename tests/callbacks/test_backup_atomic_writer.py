"""BackupAndRestore writes its optimizer state and metadata with gpunet's one atomic writer
(``gpunet.atomic_io``): a write that fails (a full disk) is an ``OSError`` naming the file,
the committed backup stays as it was and no temporary file is left."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

from gpunet import atomic_io
from gpunet.callbacks import BackupAndRestore, Callback


class FullDisk(Callback):
    """At the end of epoch ``epoch`` the disk fills up while the backup writes its optimizer
    file (fsync fails with ENOSPC); keeps the backup metadata as it was just before."""

    def __init__(self, monkeypatch, epoch: int, folder: str):
        super().__init__()
        self.monkeypatch, self.epoch, self.folder = monkeypatch, epoch, folder
        self.metadata = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch != self.epoch:
            return
        with open(os.path.join(self.folder, "training_metadata.json"), "rb") as f:
            self.metadata = f.read()

        real, count = os.fsync, [0]

        def full(fd):
            # fsyncs: the weights file's temp, its folder, then the optimizer file's temp
            count[0] += 1
            if count[0] >= 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(fd)

        self.monkeypatch.setattr(atomic_io.os, "fsync", full)


@pytest.mark.parametrize("epochs_ok", [1, 2])
def test_failed_backup_write_names_the_file_and_keeps_the_last_backup(
        tmp_path, make_model, epochs_ok, monkeypatch):
    backup = str(tmp_path / "b")
    m = make_model()
    x = np.ones((4, 4), "float32")
    y = np.zeros((4, 1), "float32")
    # the failing callback runs before BackupAndRestore in the same epoch end
    disk = FullDisk(monkeypatch, epochs_ok, backup)
    cbs = [disk, BackupAndRestore(backup, delete_checkpoint=False)]
    with pytest.raises(OSError, match=r"Could not save '.*b/ckpt-\d+\.optimizer\.npz': No "
                                      r"space left on device; the previous file, if any, is "
                                      r"unchanged"):
        m.fit(x, y, batch_size=2, epochs=4, verbose=0, callbacks=cbs)
    monkeypatch.undo()
    names = os.listdir(backup)
    assert not [n for n in names if n.endswith(".tmp")], names
    with open(os.path.join(backup, "training_metadata.json"), "rb") as f:
        assert f.read() == disk.metadata  # the last committed backup, unchanged
    meta = json.loads(disk.metadata)
    assert meta["latest"]["checkpoint"] + ".weights.h5" in names


def test_backup_files_use_the_shared_writer(monkeypatch, tmp_path):
    from gpunet.callbacks import _backup_files as files

    calls = []
    real = atomic_io.atomic_replace

    def spy(path, write, overwrite=True):
        calls.append(os.path.basename(path))
        return real(path, write, overwrite)

    monkeypatch.setattr(files, "atomic_replace", spy)
    files.atomic_write(str(tmp_path / "training_metadata.json"),
                       lambda f: json.dump({"a": 1}, f), mode="w")
    assert calls == ["training_metadata.json"]
    with open(tmp_path / "training_metadata.json") as f:
        assert json.load(f) == {"a": 1}
