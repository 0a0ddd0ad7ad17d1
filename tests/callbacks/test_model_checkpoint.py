"""ModelCheckpoint in real ``fit`` runs: file names, best-only decisions, batch frequency."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import CallbackList, ModelCheckpoint


def files(d):
    return sorted(f for f in os.listdir(d) if not f.startswith("."))


def test_every_epoch_formats_epoch_and_log_keys_and_creates_dirs(tmp_path, make_model, data,
                                                                script):
    m = make_model()
    path = tmp_path / "sub" / "deeper" / "w.{epoch:02d}-{score:.2f}.h5"
    cb = ModelCheckpoint(str(path), monitor="score")
    m.fit(*data, batch_size=4, epochs=3, verbose=0, shuffle=False,
          callbacks=[script(score=[0.3, 0.2, 0.1]), cb])
    assert files(tmp_path / "sub" / "deeper") == ["w.01-0.30.h5", "w.02-0.20.h5",
                                                  "w.03-0.10.h5"]
    # full model files (save_weights_only=False): loadable, weights of the last epoch
    loaded = gpunet.models.load_model(str(tmp_path / "sub" / "deeper" / "w.03-0.10.h5"))
    for a, b in zip(loaded.get_weights(), m.get_weights()):
        np.testing.assert_allclose(a, b)


def test_save_best_only_min_mode_with_scripted_monitor(tmp_path, make_model, data, script):
    # auto mode on "score" is "min"; NaN never counts as best; equal is no improvement
    seq = [3.0, 2.0, 2.5, math.nan, 1.0, 1.0]
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "best-{epoch}.h5"), monitor="score",
                         save_best_only=True)
    m.fit(*data, batch_size=4, epochs=6, verbose=0, callbacks=[script(score=seq), cb])
    assert files(tmp_path) == ["best-1.h5", "best-2.h5", "best-5.h5"]
    assert cb.best == 1.0


def test_save_best_only_max_mode_from_name_and_nan_first(tmp_path, make_model, data, script):
    seq = [math.nan, 0.5, 0.4, 0.6, math.nan]
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}.h5"), monitor="val_accuracy",
                         save_best_only=True)
    assert cb.mode == "max"
    m.fit(*data, batch_size=4, epochs=5, verbose=0, callbacks=[script(val_accuracy=seq), cb])
    assert files(tmp_path) == ["e2.h5", "e4.h5"]


def test_best_only_single_file_holds_best_epoch_weights(tmp_path, make_model, data, script):
    seq = [3.0, 1.0, 2.0, 4.0]
    rec = script(score=seq)
    m = make_model()
    target = tmp_path / "best.h5"
    cb = ModelCheckpoint(str(target), monitor="score", save_best_only=True,
                         save_weights_only=True, verbose=1)
    m.fit(*data, batch_size=4, epochs=4, verbose=0, callbacks=[rec, cb])
    other = make_model(seed=7)
    other.load_weights(str(target))
    for a, b in zip(other.get_weights(), rec.weights[1]):  # epoch index 1 had score 1.0
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(rec.weights[1][0], rec.weights[3][0])


def test_verbose_messages(tmp_path, make_model, data, script, capsys):
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "b.h5"), monitor="score", save_best_only=True,
                         verbose=1)
    m.fit(*data, batch_size=8, epochs=2, verbose=0, callbacks=[script(score=[2.0, 3.0]), cb])
    out = capsys.readouterr().out
    assert f"Epoch 1: score improved from None to 2.00000, saving model to {tmp_path}" in out
    assert "Epoch 2: score did not improve from 2.00000" in out


def test_initial_value_threshold(tmp_path, make_model, data, script):
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}.h5"), monitor="score", save_best_only=True,
                         initial_value_threshold=2.2)
    m.fit(*data, batch_size=4, epochs=3, verbose=0, callbacks=[script(score=[3.0, 2.0, 2.5]),
                                                              cb])
    assert files(tmp_path) == ["e2.h5"]


def test_missing_monitor_saves_with_warning(tmp_path, make_model, data):
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}.h5"), save_best_only=True)  # no val_loss
    with pytest.warns(UserWarning, match="val_loss available"):
        m.fit(*data, batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    assert files(tmp_path) == ["e1.h5", "e2.h5"]


def test_save_freq_in_batches(tmp_path, make_model, data):
    # 8 samples, batch 2 -> 4 batches per epoch; 2 epochs = 8 batches; every 3 batches saves
    # after global batches 3 and 6: (epoch 1, batch 3) and (epoch 2, batch 2), both 1-based.
    m = make_model()
    cb = ModelCheckpoint(str(tmp_path / "ck-{epoch}-{batch}.h5"), save_freq=3,
                         save_weights_only=True)
    m.fit(*data, batch_size=2, epochs=2, verbose=0, callbacks=[cb])
    assert files(tmp_path) == ["ck-1-3.h5", "ck-2-2.h5"]


def test_batch_hook_only_installed_for_batch_saving(tmp_path, make_model):
    m = make_model()
    per_epoch = ModelCheckpoint(str(tmp_path / "a.h5"))
    assert not CallbackList([per_epoch], model=m).wants_train_batch_end
    assert isinstance(per_epoch, ModelCheckpoint)
    per_batch = ModelCheckpoint(str(tmp_path / "a.h5"), save_freq=2)
    assert CallbackList([per_batch], model=m).wants_train_batch_end
    per_epoch.save_freq = 5  # settings are read again when fit starts
    assert CallbackList([per_epoch], model=m).wants_train_batch_end


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("a.h5", save_freq="batch")
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("a.h5", save_freq=0)
    with pytest.raises(ValueError, match="filepath"):
        ModelCheckpoint("")
    with pytest.raises(TypeError, match="period"):
        ModelCheckpoint("a.h5", period=2)
    with pytest.raises(TypeError, match="monitr"):
        ModelCheckpoint("a.h5", monitr="loss")


def test_unknown_placeholder_and_directory_errors(tmp_path, make_model, data):
    m = make_model()
    with pytest.raises(KeyError, match="val_acc"):
        m.fit(*data, epochs=1, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}.h5"))])
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory"):
        m.fit(*data, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "adir"))])
