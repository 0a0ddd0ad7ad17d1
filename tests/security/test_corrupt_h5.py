"""Damaged ``.h5`` files: no hang, no crash, no raw h5py exception, no silent change.

The byte-flip run uses ``tools/h5_flips.py`` (which also runs the 2,000-file version): every
file is loaded in a child process under a 10 s watchdog. The targeted cases rebuild the two
damage patterns that flips found inside HDF5 itself: a global heap collection whose object
sizes make HDF5's parser loop forever, and a string attribute whose datatype turns into a
variable-length sequence (a segmentation fault when read).
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.saving import ModelFileError

ROOT = os.path.dirname(os.path.dirname(gpunet.__file__))
ENV = {**os.environ, "GPUNET_BACKEND": "numpy",
       "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _flips_module():
    spec = importlib.util.spec_from_file_location("h5_flips",
                                                  os.path.join(ROOT, "tools", "h5_flips.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_240_byte_flipped_files_under_a_watchdog(tmp_path):
    flips = _flips_module()
    base = str(tmp_path / "base.h5")
    flips.make_base(base)
    files = flips.make_flips(base, str(tmp_path), 240, seed=1)
    results = flips.run(files, base, timeout=10.0)
    counts = {k: sum(r["outcome"] == k for r in results) for k in
              ("same", "clear", "raw", "hang", "crash", "different")}
    bad = [r for r in results if r["outcome"] in ("raw", "hang", "crash", "different")]
    assert bad == [], counts
    assert counts["same"] + counts["clear"] == 240
    assert counts["clear"] > 24  # the flips did damage files, and each got a clear error


_LOAD = textwrap.dedent("""
    import sys, gpunet
    try:
        gpunet.models.load_model(sys.argv[1])
        print("loaded")
    except Exception as e:
        print(type(e).__name__, "|", e)
""")


def _load_in_child(path) -> str:
    """Loads ``path`` in a child process (10 s watchdog); returns what it printed."""
    r = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                       text=True, env=ENV, timeout=10)
    assert r.returncode == 0, f"the loader crashed ({r.returncode}): {r.stderr[-2000:]}"
    return r.stdout.strip()


def _saved(tmp_path, name="m.h5") -> str:
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    m.compile(optimizer="adam", loss="mse")
    m.train_on_batch(np.ones((2, 4), "float32"), np.zeros((2, 3), "float32"))
    path = str(tmp_path / name)
    m.save(path)
    return path


def _global_heap_objects(data: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """``(collection offset, [(offset, index, size)])`` of the file's first global heap."""
    a = data.find(b"GCOL\x01\x00\x00\x00")
    assert a >= 0
    end, p, out = a + struct.unpack_from("<Q", data, a + 8)[0], a + 16, []
    while p + 16 <= end:
        idx, _, _, size = struct.unpack_from("<HHIQ", data, p)
        out.append((p, idx, size))
        if idx == 0:
            break
        p += 16 + (size + 7) // 8 * 8
    return a, out


def test_global_heap_that_would_loop_forever_is_refused(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(open(path, "rb").read())
    _, objs = _global_heap_objects(bytes(data))
    (p_last, _, _), (p_free, idx_free, _) = objs[-2], objs[-1]
    assert idx_free == 0 and data[p_free + 32: p_free + 48] == b"\0" * 16
    # the last string now reaches 32 bytes into the free space, where HDF5 reads a free-space
    # object of size 0 and never advances
    struct.pack_into("<Q", data, p_last + 8, p_free + 32 - p_last - 16)
    open(path, "wb").write(bytes(data))
    out = _load_in_child(path)
    assert out.startswith("ModelFileError |") and "m.h5" in out and "global heap" in out, out


def test_string_attribute_with_a_damaged_datatype_is_refused(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(open(path, "rb").read())
    at = data.find(b"training_config\x00") + 16  # the attribute's datatype message
    # version 1, class 9 (variable-length), class bits 0x01: a string, not a sequence
    assert data[at] == 0x19 and data[at + 1] == 0x01
    data[at + 1] = 0xB8  # as a flip of the 2,000-file run: HDF5 then segfaulted reading it
    open(path, "wb").write(bytes(data))
    out = _load_in_child(path)
    assert out.startswith("ModelFileError |") and "training_config" in out, out


@pytest.mark.parametrize("name", ["m.h5", "w.weights.h5", "w.h5"])
def test_checksums_catch_flipped_weight_bytes(tmp_path, name):
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((4,)), layers.Dense(8)])
    path = tmp_path / name
    (m.save if name == "m.h5" else m.save_weights)(path)
    data = bytearray(path.read_bytes())
    kernel = m.get_weights()[0].tobytes()
    at = data.find(kernel)
    assert at >= 0
    data[at + 13] ^= 0x01  # the lowest mantissa bit of one float: a silent change without it
    path.write_bytes(bytes(data))

    def load():
        if name == "m.h5":
            return gpunet.models.load_model(path, compile=False)
        fresh = Sequential([layers.Input((4,)), layers.Dense(8)])
        fresh.load_weights(path)
        return fresh

    with pytest.raises(ModelFileError, match=rf"Could not load .*{name}.*does not match the "
                                             r"SHA-256 checksum.*gpunet_sha256"):
        load()
    with h5py.File(path, "a") as f:  # the documented way to accept a deliberate edit
        f.visititems(lambda n, o: o.attrs.__delitem__("gpunet_sha256")
                     if isinstance(o, h5py.Dataset) else None)
    changed = load().get_weights()[0]
    assert (changed != m.get_weights()[0]).sum() == 1


def test_config_checksum_catches_a_valid_but_changed_config(tmp_path):
    path = _saved(tmp_path)
    with h5py.File(path, "a") as f:
        cfg = f.attrs["model_config"]
        cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
        assert '"activation": "relu"' in cfg
        f.attrs["model_config"] = cfg.replace('"activation": "relu"', '"activation": "tanh"')
    with pytest.raises(ModelFileError, match=r"m\.h5.*model_config.*gpunet_config_sha256"):
        gpunet.models.load_model(path)
    with h5py.File(path, "a") as f:
        del f.attrs["gpunet_config_sha256"]
    assert gpunet.models.load_model(path).layers[0].activation.__name__ == "tanh"


def test_optimizer_group_losing_its_names_is_an_error(tmp_path):
    path = _saved(tmp_path)
    with h5py.File(path, "a") as f:
        del f["optimizer_weights"].attrs["weight_names"]
    with pytest.raises(ModelFileError, match=r"m\.h5.*'optimizer_weights'.*weight_names"):
        gpunet.models.load_model(path)


@pytest.mark.parametrize("damage", ["missing_dataset", "bad_attr_type", "group_for_dataset",
                                    "undecodable_name"])
def test_reader_exceptions_become_one_error_naming_the_file(tmp_path, damage):
    path = _saved(tmp_path)
    with h5py.File(path, "a") as f:
        g = f["model_weights/dense"]
        if damage == "missing_dataset":
            del g["dense/kernel:0"]
        elif damage == "bad_attr_type":
            g.attrs["weight_names"] = np.arange(2.0)
        elif damage == "group_for_dataset":
            del g["dense/kernel:0"]
            g.create_group("dense/kernel:0")
        else:
            g.attrs["weight_names"] = [b"dense/\xff\xfe:0", b"dense/bias:0"]
    with pytest.raises(ModelFileError, match=r"^Could not load '.*m\.h5': ") as info:
        gpunet.models.load_model(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)
    json.dumps(str(info.value))  # a plain, printable message
