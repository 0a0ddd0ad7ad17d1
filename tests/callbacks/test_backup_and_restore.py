"""BackupAndRestore: an interrupted ``fit`` resumes where it stopped."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gpunet.callbacks import BackupAndRestore, Callback, CallbackList, LambdaCallback


class Interrupt(Callback):
    """Raises at the start of epoch ``epoch`` (and, if given, of batch ``batch`` in it)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None
        self.weights = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if self.batch is None and epoch == self.epoch:
            raise RuntimeError(f"interrupted at epoch {epoch}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            self.weights = self.model.get_weights()
            raise RuntimeError(f"interrupted at epoch {self.current}, batch {batch}")


def fit(model, data, callbacks, epochs=5):
    return model.fit(*data, batch_size=2, epochs=epochs, verbose=0, shuffle=False,
                     callbacks=callbacks)


def test_interrupted_fit_resumes_at_epoch_reached(tmp_path, make_model, data):
    backup = str(tmp_path / "backup")
    # reference: 5 uninterrupted epochs (momentum, so optimizer state matters)
    ref = make_model(lr=0.05, momentum=0.9)
    fit(ref, data, [])
    steps = 4 * 5

    m = make_model(lr=0.05, momentum=0.9)
    cb = BackupAndRestore(backup)
    with pytest.raises(RuntimeError, match="epoch 3"):
        fit(m, data, [cb, Interrupt(3)])
    with open(os.path.join(backup, "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 3  # epochs 0, 1, 2 finished

    # same callback, same model: continues at epoch 3
    h = fit(m, data, [cb])
    assert h.epoch == [3, 4]
    assert m.optimizer.iterations == steps
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not os.path.exists(backup)  # delete_checkpoint=True after a normal end


def test_resume_in_a_fresh_model_restores_weights_and_optimizer(tmp_path, make_model, data):
    backup = str(tmp_path / "backup")
    ref = make_model(lr=0.05, momentum=0.9)
    fit(ref, data, [])

    m = make_model(lr=0.05, momentum=0.9)
    with pytest.raises(RuntimeError):
        fit(m, data, [BackupAndRestore(backup), Interrupt(2)])
    # a "new process": other initial weights, fresh optimizer, new callback object
    fresh = make_model(lr=0.05, momentum=0.9, seed=99)
    h = fit(fresh, data, [BackupAndRestore(backup)])
    assert h.epoch == [2, 3, 4] and fresh.optimizer.iterations == 20
    for a, b in zip(fresh.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_batch_level_backup_reruns_the_interrupted_epoch(tmp_path, make_model, data):
    # 4 batches per epoch, save every 3 batches: backups after global batches 3 and 6; the
    # interrupt comes before batch 2 of epoch 1 (after 6 batches), so the last backup holds
    # the weights after 6 updates and epoch 1 is re-run from its start.
    backup = str(tmp_path / "backup")
    m = make_model(lr=0.05, momentum=0.9)
    stop = Interrupt(1, batch=2)
    with pytest.raises(RuntimeError, match="batch 2"):
        fit(m, data, [BackupAndRestore(backup, save_freq=3), stop], epochs=3)
    with open(os.path.join(backup, "training_metadata.json")) as f:
        meta = json.load(f)
    assert (meta["epoch"], meta["batch"]) == (1, 1)

    fresh = make_model(lr=0.05, momentum=0.9, seed=5)
    restored = {}
    peek = LambdaCallback(on_train_begin=lambda logs: restored.update(
        w=fresh.get_weights(), it=fresh.optimizer.iterations))
    h = fit(fresh, data, [BackupAndRestore(backup, save_freq=3), peek], epochs=3)
    assert h.epoch == [1, 2]
    assert restored["it"] == 6
    for a, b in zip(restored["w"], stop.weights):
        np.testing.assert_array_equal(a, b)


def test_keep_checkpoint_and_learning_rate(tmp_path, make_model, data):
    backup = str(tmp_path / "backup")
    m = make_model(lr=0.1)
    lower = LambdaCallback(on_epoch_end=lambda e, logs: setattr(m.optimizer, "learning_rate",
                                                                 0.01))
    fit(m, data, [lower, BackupAndRestore(backup, delete_checkpoint=False)], epochs=2)
    assert os.path.exists(os.path.join(backup, "training_metadata.json"))
    fresh = make_model(lr=0.1)
    h = fit(fresh, data, [BackupAndRestore(backup, delete_checkpoint=False)], epochs=2)
    assert h.epoch == []  # already finished: nothing left to run
    assert fresh.optimizer.learning_rate == pytest.approx(0.01)
    h = fit(fresh, data, [BackupAndRestore(backup)], epochs=3)
    assert h.epoch == [2]
    assert not os.path.exists(backup)


def test_double_checkpoint_falls_back_to_previous(tmp_path, make_model, data):
    backup = str(tmp_path / "backup")
    m = make_model()
    with pytest.raises(RuntimeError):
        fit(m, data, [BackupAndRestore(backup, double_checkpoint=True), Interrupt(3)])
    with open(os.path.join(backup, "training_metadata.json")) as f:
        meta = json.load(f)
    assert meta["latest"]["epoch"] == 3 and meta["previous"]["epoch"] == 2
    ckpts = sorted(f for f in os.listdir(backup) if f.endswith(".weights.h5"))
    assert len(ckpts) == 2  # older backups are removed
    with open(os.path.join(backup, meta["latest"]["checkpoint"] + ".weights.h5"), "wb") as f:
        f.write(b"damaged")
    with pytest.warns(UserWarning, match="could not restore"):
        h = fit(make_model(), data, [BackupAndRestore(backup)])
    assert h.epoch == [2, 3, 4]


def test_only_epoch_backups_skip_batch_logs_and_bad_arguments(tmp_path, make_model):
    m = make_model()
    assert not CallbackList([BackupAndRestore(str(tmp_path))], model=m).wants_train_batch_end
    assert CallbackList([BackupAndRestore(str(tmp_path), save_freq=2)],
                        model=m).wants_train_batch_end
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(str(tmp_path), save_freq=0)
