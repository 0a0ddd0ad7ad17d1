"""Hostile sizes: files that declare huge weights, zip bombs, non-numeric or external data.

Each is refused with a clear error naming the file, in well under 2 s and without
allocating what the file declares (measured with ``tracemalloc``, which sees NumPy's and
h5py's array allocations).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.saving import ModelFileError

sys.path.insert(0, os.path.dirname(__file__))
from resource_bounds import run_bounded  # noqa: E402

HUGE = (32768, 32768)  # 4 GiB of float32, declared by a file of a few kilobytes
MAX_S, MAX_BYTES = 2.0, 64 << 20


def _model() -> Sequential:
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    m.compile(optimizer="adam", loss="mse")
    m.train_on_batch(np.ones((2, 4), "float32"), np.zeros((2, 3), "float32"))
    return m


def _bounded(fn, exc=ValueError, match=None):
    """Runs ``fn``, expecting ``exc``; asserts time and memory stayed small."""
    return run_bounded(fn, exc, match, MAX_S, MAX_BYTES)


def _replace(f, name: str, **kw) -> None:
    del f[name]
    f.create_dataset(name, **kw)


def _huge(f, name: str) -> None:
    _replace(f, name, shape=HUGE, dtype="float32", chunks=(1024, 1024))


def test_h5_model_declaring_a_4gib_weight(tmp_path):
    path = tmp_path / "huge.h5"
    _model().save(path)
    with h5py.File(path, "a") as f:
        _huge(f, "model_weights/dense/dense/kernel:0")
    assert os.path.getsize(path) < 100_000
    err = _bounded(lambda: gpunet.models.load_model(path),
                   match=r"shape mismatch for layer 'dense'.*\(4, 8\).*huge\.h5.*\(32768, 32768\)")
    assert "huge.h5" in str(err)


def test_weights_files_declaring_a_4gib_weight(tmp_path):
    m = _model()
    m.save_weights(tmp_path / "w.h5")
    m.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.h5", "a") as f:
        _huge(f, "dense_1/dense_1/kernel:0")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        _huge(f, "layers/dense_1/vars/0")
    for name in ("w.h5", "w.weights.h5"):
        _bounded(lambda n=name: _model().load_weights(tmp_path / n),
                 match=rf"shape mismatch for layer .*{name}.*\(32768, 32768\)")


def test_h5_optimizer_slot_declaring_4gib(tmp_path):
    path = tmp_path / "opt.h5"
    _model().save(path)
    with h5py.File(path, "a") as f:
        slot = f["optimizer_weights"].attrs["weight_names"][1]
        slot = slot.decode() if isinstance(slot, bytes) else slot
        _huge(f, f"optimizer_weights/{slot}")
    _bounded(lambda: gpunet.models.load_model(path), ModelFileError,
             match=r"Could not load .*opt\.h5.*declares shape \(32768, 32768\), larger than any "
                   r"weight of the model \(32 elements\)")


def _rewrite_archive(src, dst, replace: dict) -> None:
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members.update(replace)
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def test_keras_archive_declaring_a_4gib_weight(tmp_path):
    _model().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        buf = io.BytesIO(z.read("model.weights.h5"))
    with h5py.File(buf, "a") as f:
        _huge(f, "layers/dense/vars/0")
    _rewrite_archive(tmp_path / "m.keras", tmp_path / "huge.keras",
                     {"model.weights.h5": buf.getvalue()})
    _bounded(lambda: gpunet.models.load_model(tmp_path / "huge.keras"),
             match=r"shape mismatch for layer 'dense'.*huge\.keras")


def _bomb(src, dst, member: str, size: int, fill: bytes = b"\0") -> None:
    """Copies archive ``src`` with ``member`` replaced by ``size`` bytes of ``fill``,
    deflated (a zip bomb: ``size`` / 1000 bytes on disk)."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist() if n != member}
    chunk = fill * (1 << 20)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as fh:
            for _ in range(size >> 20):
                fh.write(chunk)


@pytest.fixture(scope="module")
def weights_bomb(tmp_path_factory):
    d = tmp_path_factory.mktemp("bomb")
    _model().save(d / "m.keras")
    _bomb(d / "m.keras", d / "bomb.keras", "model.weights.h5", 256 << 20)
    return d / "bomb.keras"


def test_zip_bomb_weights_member(weights_bomb):
    with zipfile.ZipFile(weights_bomb) as z:  # a real bomb: ~1000:1
        info = z.getinfo("model.weights.h5")
        assert info.file_size == 256 << 20 and info.compress_size < 1 << 20
    for load in (lambda: gpunet.models.load_model(weights_bomb),
                 lambda: _model().load_weights(weights_bomb)):
        _bounded(load, ModelFileError,
                 match=r"Could not load .*bomb\.keras.*'model\.weights\.h5' declares 268435456 "
                       r"bytes uncompressed, more than the \d+ bytes it can need")


def test_zip_bomb_config_member(tmp_path):
    _model().save(tmp_path / "m.keras")
    _bomb(tmp_path / "m.keras", tmp_path / "cfg.keras", "config.json", 64 << 20, b" ")
    _bounded(lambda: gpunet.models.load_model(tmp_path / "cfg.keras"), ModelFileError,
             match=r"cfg\.keras.*'config\.json' declares 67108864 bytes")


def _patch_central_size(path, member: str, size: int) -> None:
    """Sets the uncompressed size that the central directory declares for ``member``."""
    data = bytearray(open(path, "rb").read())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46: at + 46 + n] == member.encode():
            struct.pack_into("<I", data, at + 24, size)
            break
        at = data.find(b"PK\x01\x02", at + 4)
    else:
        raise AssertionError(f"{member} not found")
    open(path, "wb").write(bytes(data))


def test_members_lying_about_their_size(tmp_path):
    src = tmp_path / "m.keras"
    _model().save(src)
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(tmp_path / "lie.keras", "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    # declares fewer bytes than it holds: zipfile stops at the declared size, the CRC fails
    _patch_central_size(tmp_path / "lie.keras", "model.weights.h5", 1000)
    _bounded(lambda: gpunet.models.load_model(tmp_path / "lie.keras"), ModelFileError,
             match=r"Could not load .*lie\.keras")
    # declares far more than its compressed size can expand to: refused before inflating
    _patch_central_size(tmp_path / "lie.keras", "model.weights.h5", 2**32 - 1)
    _bounded(lambda: gpunet.models.load_model(tmp_path / "lie.keras"), ModelFileError,
             match=r"lie\.keras.*(more than the|a ratio deflate cannot produce)")


@pytest.mark.parametrize("kind", ["text", "complex", "compound", "external", "empty"])
def test_non_numeric_or_external_weights_are_refused(tmp_path, kind):
    path = tmp_path / f"{kind}.h5"
    _model().save(path)
    name = "model_weights/dense/dense/bias:0"
    with h5py.File(path, "a") as f:
        if kind == "text":
            _replace(f, name, data=np.array([b"x"] * 8))
        elif kind == "complex":
            _replace(f, name, data=np.ones(8, np.complex64))
        elif kind == "compound":
            _replace(f, name, data=np.zeros(8, [("a", "f4"), ("b", "f4")]))
        elif kind == "external":
            raw = tmp_path / "outside.bin"
            raw.write_bytes(np.arange(8, dtype="float32").tobytes())
            _replace(f, name, shape=(8,), dtype="float32", external=[(str(raw), 0, 32)])
        else:
            _replace(f, name, data=h5py.Empty("float32"))
    err = _bounded(lambda: gpunet.models.load_model(path), ModelFileError,
                   match=rf"Could not load .*{kind}\.h5.*bias:0")
    assert ("outside the file" in str(err)) == (kind == "external")
