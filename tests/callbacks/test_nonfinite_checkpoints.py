"""ModelCheckpoint and BackupAndRestore never write weights holding NaN or Inf: the save is
skipped with a warning naming the file, and the previous file stays as it was."""

from __future__ import annotations

import json
import os
import warnings

import h5py
import numpy as np
import pytest

import gpunet
from gpunet.callbacks import BackupAndRestore, Callback, LambdaCallback, ModelCheckpoint


class Poison(Callback):
    """At the end of the listed epochs, puts ``value`` into the first kernel (as an overflowed
    update would) before the checkpoint callbacks listed after it run; the good weights come
    back at the next epoch's start. ``slot`` poisons an optimizer slot instead."""

    def __init__(self, epochs, value=np.nan, slot=False):
        super().__init__()
        self.epochs, self.value, self.slot, self.good = set(epochs), value, slot, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.good is not None:
            self.model.set_weights(self.good)
            self.good = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch not in self.epochs:
            return
        if self.slot:
            opt = self.model.optimizer
            self.good = None
            opt._slots[0][opt.slot_names[0]][0] = self.value
            return
        self.good = self.model.get_weights()
        w = [a.copy() for a in self.good]
        w[0][0, 0] = self.value
        self.model.set_weights(w)


def kernels(path):
    with h5py.File(path, "r") as f:
        out = []
        f.visititems(lambda n, o: out.append(o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def test_every_epoch_files_skip_the_poisoned_epoch(backend, tmp_path, make_model, data):
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "w{epoch}.weights.h5"), save_weights_only=True)
    with pytest.warns(UserWarning, match=r"Epoch 2: the model's weights hold NaN or Inf \(in "
                                         r"dense\w*/kernel\); skipping the save to .*w2\.weights"
                                         r"\.h5\. The previous file, if any, is kept\."):
        m.fit(*data, batch_size=4, epochs=3, verbose=0, callbacks=[Poison({1}), cb])
    assert sorted(os.listdir(tmp_path)) == ["w1.weights.h5", "w3.weights.h5"]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_fixed_path_keeps_the_previous_file(backend, tmp_path, make_model, data, value):
    path = tmp_path / "last.h5"
    m = make_model()
    before = {}
    peek = LambdaCallback(on_epoch_end=lambda e, logs: before.setdefault(e, path.read_bytes()))
    with pytest.warns(UserWarning, match="last.h5"):
        m.fit(*data, batch_size=4, epochs=2, verbose=0,
              callbacks=[Poison({1}, value), ModelCheckpoint(str(path)), peek])
    assert path.read_bytes() == before[0]  # the epoch-1 file, untouched
    assert all(np.isfinite(a).all() for a in kernels(path))
    loaded = gpunet.models.load_model(str(path))
    assert all(np.isfinite(a).all() for a in loaded.get_weights())


def test_best_only_does_not_count_a_skipped_save(backend, tmp_path, make_model, data, script):
    # epoch 2 has the best score but NaN weights: skipped, and the best stays 2.0, so epoch
    # 3's 1.5 (worse than the skipped 1.0) is saved
    saved = []
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "best{epoch}.h5"), monitor="score", save_best_only=True)
    orig = m.save
    m.save = lambda p, *a, **k: (saved.append(os.path.basename(p)), orig(p, *a, **k))
    with pytest.warns(UserWarning, match="best2.h5"):
        m.fit(*data, batch_size=4, epochs=3, verbose=0,
              callbacks=[script(score=[2.0, 1.0, 1.5]), Poison({1}), cb])
    assert saved == ["best1.h5", "best3.h5"] and cb.best == 1.5


def test_backup_skips_poisoned_weights_and_slots(backend, tmp_path, make_model, data):
    backup = str(tmp_path / "b")
    for poison, where in ((Poison({2}), "dense"), (Poison({2}, slot=True), "SGD/")):
        m = make_model(momentum=0.9)
        stop = LambdaCallback(on_epoch_end=lambda e, logs, m=m: setattr(m, "stop_training",
                                                                         e == 2))
        with pytest.warns(UserWarning, match=rf"BackupAndRestore: not backing up at epoch 3: "
                                             rf"the weights hold NaN or Inf \(in {where}"):
            m.fit(*data, batch_size=4, epochs=5, verbose=0, callbacks=[
                poison, BackupAndRestore(backup, delete_checkpoint=False), stop])
        with open(os.path.join(backup, "training_metadata.json")) as f:
            meta = json.load(f)
        assert meta["epoch"] == 2 and meta["latest"]["checkpoint"] == "ckpt-2"
        assert sorted(os.listdir(backup)) == ["ckpt-2.optimizer.npz", "ckpt-2.weights.h5",
                                              "training_metadata.json"]
        assert all(np.isfinite(a).all() for a in kernels(os.path.join(
            backup, "ckpt-2.weights.h5")))
        with np.load(os.path.join(backup, "ckpt-2.optimizer.npz")) as z:
            assert all(np.isfinite(z[k]).all() for k in z.files)
        for n in os.listdir(backup):
            os.unlink(os.path.join(backup, n))


def test_diverging_fit_never_writes_non_finite_files(backend, tmp_path):
    # SGD at lr=1e38: the first update overflows the weights to Inf while its loss is finite;
    # whatever fit then does about it, every file written holds finite numbers only, and a
    # model left with non-finite weights at a save point was warned about
    gpunet.utils.set_random_seed(0)
    m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(8, activation="relu"),
                           gpunet.layers.Dense(1)])
    m.compile(optimizer=gpunet.optimizers.SGD(1e38), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True) * 100
    backup = str(tmp_path / "b")
    at_save = []
    peek = LambdaCallback(on_epoch_end=lambda e, logs: at_save.append(
        all(np.isfinite(a).all() for a in m.get_weights())))
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
            peek, ModelCheckpoint(str(tmp_path / "e{epoch}.h5")),
            ModelCheckpoint(str(tmp_path / "last.weights.h5"), save_weights_only=True),
            BackupAndRestore(backup, delete_checkpoint=False)])
    written = [os.path.join(r, n) for r, _, ns in os.walk(tmp_path) for n in ns
               if n.endswith(".h5")]
    for p in written:
        assert all(np.isfinite(a).all() for a in kernels(p) if a.dtype.kind == "f"), p
    skipped = [str(w.message) for w in caught if "NaN or Inf" in str(w.message)]
    assert len(skipped) == 3 * at_save.count(False)
