"""BackupAndRestore's folder: orphans and stale temporary files are removed, a normal end
leaves nothing of the callback, and a second process gets a clear error while a run holds
the folder (a real second process; a killed owner's lock is taken over)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import BackupAndRestore, Callback, LambdaCallback

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX folder lock")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The child's model and data; it runs the function `job` defined by each test.
CHILD = textwrap.dedent("""
    import os, sys, time, signal, json
    import numpy as np
    import gpunet
    from gpunet.callbacks import BackupAndRestore, Callback, LambdaCallback

    def build(seed):
        gpunet.utils.set_random_seed(seed)
        m = gpunet.Sequential([gpunet.Input((6,)), gpunet.layers.Dense(32, activation="relu"),
                               gpunet.layers.Dropout(0.3), gpunet.layers.Dense(1)])
        m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
        return m

    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 6)).astype("float32")
    y = (x[:, :1] - x[:, 1:2]).astype("float32")

    def fit(m, callbacks, epochs=6):
        return m.fit(x, y, batch_size=8, epochs=epochs, shuffle=True, verbose=0,
                     callbacks=callbacks)
""")


def run_child(body, *args, wait=True):
    code = CHILD + textwrap.dedent(body)
    env = dict(os.environ, GPUNET_BACKEND="numpy", PYTHONPATH=REPO)
    p = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return p
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def wait_for(path, proc, timeout=60.0):
    end = time.time() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.05)


def ours(folder):
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(n for n in names if n != "notes.txt")


# -- orphans --------------------------------------------------------------------------------
def test_kill_during_a_save_then_restart_leaves_nothing(tmp_path):
    """A process killed (SIGKILL) in the middle of its 3rd backup, after the weights file and
    inside the optimizer file's write, leaves an orphan checkpoint and a temporary file; the
    next run removes them before training, resumes bit-exactly, and a normal end leaves
    nothing of ours (a foreign file stays, with the folder)."""
    backup = str(tmp_path / "b")
    os.makedirs(backup)
    with open(os.path.join(backup, "notes.txt"), "w") as f:
        f.write("the user's file")
    rc, out, err = run_child("""
        from gpunet.callbacks import _backup_files as files
        real = files.atomic_write
        count = [0]
        def dying(path, write, mode="wb"):
            if path.endswith(".optimizer.npz"):
                count[0] += 1
                if count[0] == 3:
                    def half(f):
                        f.write(b"partial")
                        f.flush()
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(path, half, mode)
            return real(path, write, mode)
        files.atomic_write = dying
        fit(build(1), [BackupAndRestore(sys.argv[1])])
    """, backup)
    assert rc == -signal.SIGKILL, err
    left = ours(backup)
    assert "ckpt-3.weights.h5" in left  # the orphan: written, never committed
    assert any(n.startswith(".ckpt-3.optimizer.npz.") and n.endswith(".tmp") for n in left)
    with open(os.path.join(backup, "training_metadata.json")) as f:
        assert json.load(f)["latest"]["checkpoint"] == "ckpt-2"

    rc, out, err = run_child("""
        seen = []
        peek = LambdaCallback(on_train_begin=lambda logs: seen.append(
            sorted(os.listdir(sys.argv[1]))))
        m = build(99)
        h = fit(m, [BackupAndRestore(sys.argv[1]), peek])
        np.savez(sys.argv[2], *m.get_weights())
        print(json.dumps({"seen": seen[0], "epochs": h.epoch}))
    """, backup, tmp_path / "resumed.npz")
    assert rc == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["epochs"] == [2, 3, 4, 5]
    assert report["seen"] == ["backup.lock", "ckpt-2.optimizer.npz", "ckpt-2.weights.h5",
                              "notes.txt", "training_metadata.json"]
    assert ours(backup) == [] and os.listdir(backup) == ["notes.txt"]

    rc, out, err = run_child("""
        m = build(1)
        fit(m, [])
        np.savez(sys.argv[1], *m.get_weights())
    """, tmp_path / "reference.npz")
    assert rc == 0, err
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "reference.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def make_model():
    m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(3)])
    m.compile(optimizer="adam", loss="mse")
    return m


XY = (np.ones((8, 4), "float32"), np.zeros((8, 3), "float32"))


def test_backups_keep_only_the_committed_checkpoints(tmp_path):
    backup = str(tmp_path / "b")
    listings = []
    peek = LambdaCallback(on_epoch_end=lambda e, logs: listings.append(ours(backup)))
    make_model().fit(*XY, epochs=3, verbose=0,
                     callbacks=[BackupAndRestore(backup, double_checkpoint=True), peek])
    assert listings == [
        ["backup.lock", "ckpt-1.optimizer.npz", "ckpt-1.weights.h5", "training_metadata.json"],
        ["backup.lock", "ckpt-1.optimizer.npz", "ckpt-1.weights.h5", "ckpt-2.optimizer.npz",
         "ckpt-2.weights.h5", "training_metadata.json"],
        ["backup.lock", "ckpt-2.optimizer.npz", "ckpt-2.weights.h5", "ckpt-3.optimizer.npz",
         "ckpt-3.weights.h5", "training_metadata.json"]]
    assert not os.path.exists(backup)


def test_keep_checkpoint_cleans_orphans_and_gives_the_lock_back(tmp_path):
    backup = tmp_path / "b"
    backup.mkdir()
    for n in ("ckpt-40.weights.h5", ".ckpt-41.weights.h5.host-1-0123abcd.tmp",
              ".training_metadata.json.77-ab12cd34.tmp"):
        (backup / n).write_bytes(b"x" * 1000)
    make_model().fit(*XY, epochs=2, verbose=0,
                     callbacks=[BackupAndRestore(str(backup), delete_checkpoint=False)])
    assert ours(str(backup)) == ["ckpt-2.optimizer.npz", "ckpt-2.weights.h5",
                                 "training_metadata.json"]


# -- the lock -------------------------------------------------------------------------------
def test_a_second_process_gets_a_clear_error(tmp_path):
    backup, ready, go = (str(tmp_path / n) for n in ("b", "ready", "go"))
    child = run_child("""
        class Hold(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    open(sys.argv[2], "w").close()
                    end = time.time() + 60
                    while not os.path.exists(sys.argv[3]) and time.time() < end:
                        time.sleep(0.02)
        fit(build(1), [BackupAndRestore(sys.argv[1]), Hold()], epochs=3)
        print("done", sorted(os.listdir(sys.argv[1])) if os.path.exists(sys.argv[1]) else None)
    """, backup, ready, go, wait=False)
    try:
        wait_for(ready, child)
        m = make_model()
        with pytest.raises(RuntimeError, match=rf"in use by another training run \(pid "
                                               rf"{child.pid} on host"):
            m.fit(*XY, epochs=2, verbose=0, callbacks=[BackupAndRestore(backup)])
        assert m.optimizer.iterations == 0  # nothing trained, nothing restored
    finally:
        open(go, "w").close()
        out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.strip() == "done None"  # the owner finished normally and cleaned up
    h = make_model().fit(*XY, epochs=1, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert h.epoch == [0]


def test_a_killed_owners_lock_is_taken_over(tmp_path):
    backup = str(tmp_path / "b")
    rc, _, err = run_child("""
        class Die(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
        fit(build(1), [BackupAndRestore(sys.argv[1]), Die()])
    """, backup)
    assert rc == -signal.SIGKILL, err
    with open(os.path.join(backup, "backup.lock")) as f:
        assert f.read().startswith("pid ")  # the dead owner's
    m = gpunet.Sequential([gpunet.Input((6,)), gpunet.layers.Dense(32, activation="relu"),
                           gpunet.layers.Dropout(0.3), gpunet.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    x = np.zeros((48, 6), "float32")
    h = m.fit(x, x[:, :1], batch_size=8, epochs=4, verbose=0,
              callbacks=[BackupAndRestore(backup)])
    assert h.epoch == [2, 3]
    assert not os.path.exists(backup)


def test_same_process_takes_its_own_lock_back(tmp_path):
    # a fit that raised never reached on_train_end: a new callback in the same process
    # (a notebook cell run again) takes the folder over
    backup = str(tmp_path / "b")

    class Boom(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_model().fit(*XY, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup), Boom()])
    assert os.path.exists(os.path.join(backup, "backup.lock"))
    h = make_model().fit(*XY, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert h.epoch == [1, 2] and not os.path.exists(backup)
