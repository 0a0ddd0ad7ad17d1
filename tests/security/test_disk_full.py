"""A save that runs out of disk space: a clean OSError naming the file, the previous file
intact (byte for byte, and loadable), no temporary file left.

Two ways to fill the disk: a small tmpfs (needs root and a kernel that lets the test mount
one; skipped otherwise) and ``RLIMIT_FSIZE`` in a child process with ``SIGXFSZ`` ignored, so
that the write that crosses the limit fails with ``EFBIG`` (works everywhere on POSIX).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.callbacks import ModelCheckpoint

SUFFIXES = [".h5", ".weights.h5", ".keras"]


def _model(width: int) -> Sequential:
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((8,)), layers.Dense(width, activation="relu"),
                    layers.Dense(3)])
    m.compile(optimizer="adam", loss="mse")
    return m


def _save(model, path: str) -> None:
    (model.save_weights if path.endswith(".weights.h5") else model.save)(path)


def _load_predict(path: str, x: np.ndarray) -> np.ndarray:
    if path.endswith(".weights.h5"):
        m = _model(4)
        m.load_weights(path)
    else:
        m = gpunet.models.load_model(path)
    return m.predict(x, verbose=0)


def _temps(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs mounted under ``tmp_path`` (skips where mounting is not allowed)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_full_tmpfs_save_is_a_clean_oserror(small_tmpfs, suffix):
    path = str(small_tmpfs / f"ckpt{suffix}")
    small = _model(4)
    _save(small, path)
    before = open(path, "rb").read()
    x = np.ones((2, 8), "float32")
    expected = small.predict(x, verbose=0)
    big = _model(40000)  # ~1.9 MB of weights: cannot fit in 1 MiB
    with pytest.raises(OSError, match=rf"Could not save '{path}'.*No space left") as info:
        _save(big, path)
    assert not isinstance(info.value, ValueError)  # a disk error, not a "bad file" error
    assert open(path, "rb").read() == before
    np.testing.assert_array_equal(_load_predict(path, x), expected)
    assert _temps(small_tmpfs) == []


def test_checkpoint_during_fit_on_a_filling_disk(small_tmpfs):
    """Keras's ``fit`` + ``ModelCheckpoint('ck{epoch}.h5')``: the first checkpoint fits, the
    disk is then filled, and the next one fails cleanly while the first stays loadable."""
    filler = small_tmpfs / "filler.bin"
    model = _model(64)
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    y = np.zeros((32, 3), "float32")

    class Fill(gpunet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:  # after ck1.h5: leave about 4 KB free
                st = os.statvfs(small_tmpfs)
                filler.write_bytes(b"\0" * max(st.f_bavail * st.f_frsize - 4096, 0))

    ck = ModelCheckpoint(str(small_tmpfs / "ck{epoch}.h5"))
    with pytest.raises(OSError, match=r"Could not save '.*ck2\.h5'.*No space left"):
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[ck, Fill()])
    loaded = gpunet.models.load_model(small_tmpfs / "ck1.h5")
    assert loaded.optimizer.iterations == 4
    assert sorted(os.listdir(small_tmpfs)) == ["ck1.h5", "filler.bin"]


_CHILD = textwrap.dedent("""
    import json, os, resource, signal, sys
    import numpy as np
    sys.path.insert(0, sys.argv[3])
    from test_disk_full import _model, _save
    path, limit = sys.argv[1], int(sys.argv[2])
    _save(_model(4), path)
    before = open(path, "rb").read()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        _save(_model(3000), path)
        out = {"raised": None}
    except Exception as e:
        out = {"raised": type(e).__name__, "msg": str(e), "errno": getattr(e, "errno", None)}
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    out["intact"] = open(path, "rb").read() == before
    print(json.dumps(out))
""")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_file_size_limit_save_is_a_clean_oserror(tmp_path, suffix):
    import errno

    pytest.importorskip("resource")
    path = str(tmp_path / f"ckpt{suffix}")
    env = {**os.environ, "GPUNET_BACKEND": "numpy",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(gpunet.__file__)),
                                          os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", _CHILD, path, str(64 * 1024),
                        os.path.dirname(__file__)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["raised"] == "OSError" and out["errno"] == errno.EFBIG, out
    assert f"Could not save {path!r}" in out["msg"] and "previous file" in out["msg"]
    assert out["intact"]
    np.testing.assert_array_equal(_load_predict(path, np.ones((2, 8), "float32")),
                                  _model(4).predict(np.ones((2, 8), "float32"), verbose=0))
    assert _temps(tmp_path) == []


def test_overwrite_false_and_unwritable_folder(tmp_path):
    path = tmp_path / f"{uuid.uuid4().hex}.h5"
    _model(4).save(path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        gpunet.saving.save_model(_model(4), path, overwrite=False)
    if os.geteuid() != 0:  # root ignores folder permissions
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(OSError, match=r"Could not save .*ro.*m\.h5"):
            _model(4).save(ro / "m.h5")
