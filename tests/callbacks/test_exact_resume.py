"""BackupAndRestore: an interrupted and resumed ``fit`` with ``shuffle=True`` and ``Dropout``
(seeded and unseeded) ends with the same weights, bit for bit, as an uninterrupted one."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import BackupAndRestore, Callback


class Interrupt(Callback):
    """Raises at the start of epoch ``epoch``, or before batch ``batch`` of it."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if self.batch is None and epoch == self.epoch:
            raise RuntimeError(f"interrupted at epoch {epoch}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError(f"interrupted at epoch {self.current}, batch {batch}")


def build(seed):
    gpunet.utils.set_random_seed(seed)
    m = gpunet.Sequential([
        gpunet.Input((6,)),
        gpunet.layers.Dense(16, activation="relu"),
        gpunet.layers.Dropout(0.3),  # unseeded: the backend's generator (shared with shuffling)
        gpunet.layers.Dense(8, activation="tanh"),
        gpunet.layers.Dropout(0.25, seed=3),  # its own stream
        gpunet.layers.Dense(1),
    ])
    m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    return m


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    return x, (x[:, :1] * 2 - x[:, 1:2] + 0.1).astype("float32")


def fit(m, xy, callbacks, epochs=6):
    return m.fit(*xy, batch_size=8, epochs=epochs, shuffle=True, verbose=0, callbacks=callbacks)


@pytest.fixture
def reference(backend, xy):
    m = build(1)
    fit(m, xy, [])
    return m.get_weights()


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("batch", [None, 2], ids=["at-epoch-start", "mid-epoch"])
def test_resume_in_the_same_model_is_bit_exact(backend, xy, reference, tmp_path, batch):
    backup = str(tmp_path / "b")
    m = build(1)
    cb = BackupAndRestore(backup)
    with pytest.raises(RuntimeError, match="interrupted at epoch 3"):
        fit(m, xy, [cb, Interrupt(3, batch)])
    h = fit(m, xy, [cb])
    assert h.epoch == [3, 4, 5]
    assert_same(m.get_weights(), reference)
    assert not os.path.exists(backup)


def test_resume_in_a_fresh_model_and_seed_is_bit_exact(backend, xy, reference, tmp_path):
    backup = str(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(build(1), xy, [BackupAndRestore(backup), Interrupt(2, 3)])
    fresh = build(77)  # as in a new process: other initial weights and random state
    h = fit(fresh, xy, [BackupAndRestore(backup)])
    assert h.epoch == [2, 3, 4, 5]
    assert_same(fresh.get_weights(), reference)


def test_without_the_random_state_the_resume_differs(backend, xy, reference, tmp_path):
    # the control: the same backup minus its random state does not reproduce the run
    backup = str(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(build(1), xy, [BackupAndRestore(backup), Interrupt(3)])
    path = os.path.join(backup, "training_metadata.json")
    with open(path) as f:
        meta = json.load(f)
    del meta["latest"]["random_state"]
    with open(path, "w") as f:
        json.dump(meta, f)
    fresh = build(77)
    fit(fresh, xy, [BackupAndRestore(backup)])
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), reference))


def test_two_interruptions_and_double_checkpoint(backend, xy, reference, tmp_path):
    backup = str(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(build(1), xy, [BackupAndRestore(backup, double_checkpoint=True), Interrupt(2, 1)])
    with pytest.raises(RuntimeError):
        fit(build(5), xy, [BackupAndRestore(backup, double_checkpoint=True), Interrupt(4, 3)])
    fresh = build(9)
    h = fit(fresh, xy, [BackupAndRestore(backup, double_checkpoint=True)])
    assert h.epoch == [4, 5]
    assert_same(fresh.get_weights(), reference)


def test_batch_level_backup_reruns_the_epoch_with_its_shuffle(backend, xy, tmp_path):
    # save every 3 batches (5 per epoch: after batch 2 of epoch 0, batches 0 and 3 of epoch
    # 1); interrupted before batch 4 of epoch 1, the last backup holds epoch 1's starting
    # random state, so the re-run epoch 1 sees the same order of samples as the first did.
    backup = str(tmp_path / "b")
    seen = {}

    class Order(Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 1 and batch == 0:
                # the first batch's permutation is drawn before this hook; record the state
                seen[self.tag] = gpunet.backend.random.generator_state(self.model.backend)

    with pytest.raises(RuntimeError):
        fit(build(1), xy, [BackupAndRestore(backup, save_freq=3), Order("first"),
                           Interrupt(1, 4)], epochs=3)
    with open(os.path.join(backup, "training_metadata.json")) as f:
        meta = json.load(f)
    assert (meta["epoch"], meta["batch"]) == (1, 3)
    h = fit(build(4), xy, [BackupAndRestore(backup, save_freq=3), Order("again")], epochs=3)
    assert h.epoch == [1, 2]
    assert seen["again"] == seen["first"]
