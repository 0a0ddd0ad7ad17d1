"""BackupAndRestore trusts nothing in its folder: metadata naming a checkpoint outside it
(``../outside``, an absolute path, a link) is refused before anything is loaded, and a
normal end removes only the callback's own files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import BackupAndRestore


def make_model():
    m = gpunet.Sequential([gpunet.Input((3,)), gpunet.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    m.set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
    return m


@pytest.fixture
def xy():
    return np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")


@pytest.fixture
def outside(tmp_path):
    """Valid-looking checkpoint files outside the backup folder (other weights)."""
    src = make_model()
    src.set_weights([np.full((3, 2), 7.0, "float32"), np.full(2, 7.0, "float32")])
    base = tmp_path / "outside"
    src.save_weights(str(base) + ".weights.h5")
    np.savez(str(base) + ".optimizer.npz")
    return [str(base) + ".weights.h5", str(base) + ".optimizer.npz"]


def write_meta(folder, latest, previous=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "training_metadata.json"), "w") as f:
        json.dump({"epoch": 2, "batch": None, "counter": 1,
                   "latest": latest, "previous": previous}, f)


def spy_loads(model, monkeypatch):
    loaded = []
    orig = model.load_weights
    monkeypatch.setattr(model, "load_weights", lambda p, *a, **k: (loaded.append(p),
                                                                   orig(p, *a, **k)))
    return loaded


@pytest.mark.parametrize("name", [
    "../outside", "ckpt-1/../../outside", "/etc/passwd", "ckpt-1/../ckpt-1", "ckpt-0",
    "ckpt-1\x00", "ckpt-01", ".", "", 5, None, ["ckpt-1"], "ckpt-1.weights.h5",
])
def test_metadata_naming_anything_but_a_plain_checkpoint_is_refused(tmp_path, outside, xy,
                                                                     monkeypatch, name):
    backup = str(tmp_path / "backup")
    write_meta(backup, {"checkpoint": name, "epoch": 2})
    m = make_model()
    loaded = spy_loads(m, monkeypatch)
    with pytest.raises(ValueError, match="was not written by BackupAndRestore or has been "
                                         "altered") as e:
        m.fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert repr(name)[:20] in str(e.value) or str(name) in str(e.value)
    assert loaded == [] and m.optimizer.iterations == 0
    np.testing.assert_array_equal(m.get_weights()[0], np.ones((3, 2)))
    assert all(os.path.exists(p) for p in outside)
    assert os.path.exists(os.path.join(backup, "training_metadata.json"))  # left for a look
    assert not os.path.exists(os.path.join(backup, "backup.lock"))  # lock given back


def test_a_bad_previous_record_is_refused_too(tmp_path, outside, xy):
    backup = str(tmp_path / "backup")
    write_meta(backup, {"checkpoint": "ckpt-1", "epoch": 2},
               previous={"checkpoint": "../outside", "epoch": 1})
    with pytest.raises(ValueError, match="'../outside'"):
        make_model().fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert all(os.path.exists(p) for p in outside)


@pytest.mark.parametrize("field,value", [("epoch", -1), ("epoch", "2"), ("epoch", True),
                                         ("iterations", 1.5), ("learning_rate", "nan"),
                                         ("random_state", [1])])
def test_malformed_fields_are_refused(tmp_path, xy, field, value):
    backup = str(tmp_path / "backup")
    write_meta(backup, {"checkpoint": "ckpt-1", "epoch": 2, field: value})
    with pytest.raises(ValueError, match=field):
        make_model().fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup)])


def test_linked_checkpoint_and_metadata_are_not_followed(tmp_path, outside, xy, monkeypatch):
    backup = tmp_path / "backup"
    write_meta(str(backup), {"checkpoint": "ckpt-1", "epoch": 2})
    os.symlink(outside[0], backup / "ckpt-1.weights.h5")
    os.symlink(outside[1], backup / "ckpt-1.optimizer.npz")
    m = make_model()
    loaded = spy_loads(m, monkeypatch)
    with pytest.warns(UserWarning, match="is a link"), pytest.raises(ValueError,
                                                                     match="cannot be restored"):
        m.fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(backup))])
    assert loaded == []
    np.testing.assert_array_equal(m.get_weights()[0], np.ones((3, 2)))

    other = tmp_path / "meta_elsewhere.json"
    other.write_text(json.dumps({"latest": {"checkpoint": "ckpt-1", "epoch": 2}}))
    os.unlink(backup / "training_metadata.json")
    os.symlink(other, backup / "training_metadata.json")
    with pytest.raises(ValueError, match="a link is refused"):
        m.fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(backup))])
    assert all(os.path.exists(p) for p in outside) and other.exists()


def test_normal_end_removes_only_its_own_files(tmp_path, outside, xy):
    backup = tmp_path / "backup"
    backup.mkdir()
    foreign = ["notes.txt", "ckpt-x.weights.h5", "ckpt-1.weights.h5.bak", "model.h5",
               ".hidden.tmp", "training_metadata.json.bak"]
    for n in foreign:
        (backup / n).write_text("not ours")
    link = backup / "ckpt-7.weights.h5"  # a link with our name: removed, its target is not
    os.symlink(outside[0], link)
    m = make_model()
    m.fit(*xy, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(backup))])
    assert sorted(os.listdir(backup)) == sorted(foreign)
    assert all(os.path.exists(p) for p in outside)


@pytest.mark.parametrize("content,match", [
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe", "is not valid JSON"),
    (b"[1, 2]", "holds a list; expected an object"),
    (b'{"epoch": 2}', "has no 'latest' checkpoint record"),
    (b'{"latest": {"checkpoint": "ckpt-1", "epoch": 1}, "counter": -3}', "counter=-3"),
    (b" " * (5 << 20), "is larger than"),
])
def test_unreadable_metadata_is_a_clear_error(tmp_path, xy, content, match):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "ckpt-1.weights.h5").write_bytes(b"kept")
    (backup / "training_metadata.json").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        make_model().fit(*xy, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(backup))])
    assert sorted(os.listdir(backup)) == ["ckpt-1.weights.h5", "training_metadata.json"]
