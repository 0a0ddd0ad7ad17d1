"""Crash safety of save and clear errors for damaged or foreign files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers

# Saves a 27 MB model in a loop. The first save announces itself once half of its weights
# are in the temporary file and pauses there, so the kill lands inside a write.
_SAVER = textwrap.dedent("""
    import sys, time
    from gpunet import Sequential, layers
    from gpunet.saving import weights
    m = Sequential([layers.Input((1500,)), layers.Dense(1500), layers.Dense(1500),
                    layers.Dense(1500)])
    calls, host = [0], weights.host
    def slow_host(w):
        calls[0] += 1
        if calls[0] == 4:
            print("writing", flush=True)
            time.sleep(2.0)
        return host(w)
    weights.host = slow_host
    while True:
        m.save(sys.argv[1])
""")


def test_kill_during_save_keeps_previous_file(tmp_path, mlp):
    path = tmp_path / "ckpt.h5"
    old = mlp()
    old.save(path)
    x = np.ones((2, 4), "float32")
    expected = old.predict(x, verbose=0)
    root = os.path.dirname(os.path.dirname(gpunet.__file__))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "GPUNET_BACKEND": "numpy"}
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE,
                            env=env)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    loaded = gpunet.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    assert loaded.optimizer.iterations == old.optimizer.iterations
    # the file is built in memory: a kill before its bytes reach the disk leaves no temp file
    assert [p for p in os.listdir(tmp_path) if p != "ckpt.h5"] == []


def test_truncated_file(tmp_path, mlp):
    path = tmp_path / "m.h5"
    mlp().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"m\.h5.*(truncated|damaged)"):
        gpunet.models.load_model(path)
    with pytest.raises(ValueError, match=r"m\.h5.*(truncated|damaged)"):
        mlp().load_weights(path)


def test_not_hdf5_missing_and_directory(tmp_path, mlp):
    (tmp_path / "notes.h5").write_text("not a model")
    with pytest.raises(ValueError, match=r"notes\.h5.*not an HDF5 file"):
        gpunet.models.load_model(tmp_path / "notes.h5")
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        gpunet.models.load_model(tmp_path / "nothing.h5")
    with pytest.raises(ValueError, match="directory"):
        gpunet.models.load_model(tmp_path)


def test_weights_only_file_has_no_model_config(tmp_path, mlp):
    mlp().save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"No model config found.*w\.h5.*load_weights"):
        gpunet.models.load_model(tmp_path / "w.h5")


def test_shape_mismatch_in_model_file(tmp_path, kw):
    w = kw.reference_weights()
    w["dense_1"][0] = np.zeros((kw.HIDDEN + 1, kw.CLASSES), "float32")
    kw.write_model_file(tmp_path / "bad.h5", "k2", w)
    with pytest.raises(ValueError, match=r"'dense_1'.*\(5, 4\).*bad\.h5.*\(6, 4\)"):
        gpunet.models.load_model(tmp_path / "bad.h5", compile=False)


def test_weight_count_mismatch_in_model_file(tmp_path, kw):
    w = kw.reference_weights()
    w["dense"] = w["dense"][:1]
    kw.write_model_file(tmp_path / "bad.h5", "k2", w)
    with pytest.raises(ValueError, match=r"count mismatch for layer 'dense'.*2 weight.*bad\.h5.*"
                                         r"1 weight"):
        gpunet.models.load_model(tmp_path / "bad.h5", compile=False)


def test_missing_dataset_and_bad_json(tmp_path, mlp):
    path = tmp_path / "m.h5"
    mlp().save(path)
    with h5py.File(path, "a") as f:
        del f["model_weights/dense_1/dense_1/bias:0"]
    with pytest.raises(ValueError, match=r"damaged.*bias:0.*dense_1"):
        gpunet.models.load_model(path)
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = b"{broken"
    with pytest.raises(ValueError, match=r"model_config.*not valid JSON"):
        gpunet.models.load_model(path)


def test_optimizer_state_mismatch_warns_and_starts_fresh(tmp_path, kw):
    w = kw.reference_weights()
    opt = kw.optimizer_weights("k2", w, kw.adam_state(w), 5)[:-2]  # one variable short
    kw.write_model_file(tmp_path / "m.h5", "k2", w, kw.keras2_training_config(), opt)
    with pytest.warns(UserWarning, match=r"optimizer state.*m\.h5.*starts fresh"):
        model = gpunet.models.load_model(tmp_path / "m.h5")
    assert model.optimizer.iterations == 0


def test_unbuilt_stored_model(tmp_path):
    cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f.attrs["model_config"] = str(cfg).replace("'", '"').encode()
        f.create_group("model_weights")
    with pytest.raises(ValueError, match="no input shape"):
        gpunet.models.load_model(tmp_path / "u.h5")
    assert Sequential([layers.Dense(2)]).layers


def test_keras3_native_archive_is_named(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"m\.keras.*'\.keras' \(zip\)"):
        gpunet.models.load_model(tmp_path / "m.keras")
