"""Tests for gpunet.utils.data_utils. They never touch the network: downloads use file://
URLs, and the offline case an unreachable local port."""

import hashlib
import io
import os
import pathlib
import tarfile
import zipfile

import numpy as np
import pytest

from gpunet.utils import data_utils
from gpunet.utils.data_utils import (
    DatasetNotFoundError,
    data_search_dirs,
    find_data_file,
    get_cache_dir,
    get_file,
    hash_file,
    load_npz,
    validate_file,
)

UNREACHABLE = "http://127.0.0.1:9/x"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated home, gpunet cache and Keras cache; no GPUNET_DATA_DIR."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GPUNET_HOME", str(tmp_path / "gpunet_home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("GPUNET_DATA_DIR", raising=False)
    return tmp_path


@pytest.fixture
def source(env):
    """A small file to "download" through a file:// URL."""
    src_dir = env / "remote"
    src_dir.mkdir()
    path = src_dir / "payload.bin"
    path.write_bytes(b"gpunet test payload\n" * 1000)
    return path


def cache_file(env, name, subdir="datasets"):
    return env / "gpunet_home" / subdir / name


# ------------------------------------------------------------------------------------ lookup


def test_cache_dir_follows_gpunet_home(env, monkeypatch):
    assert get_cache_dir() == str(env / "gpunet_home")
    monkeypatch.delenv("GPUNET_HOME")
    assert get_cache_dir() == str(env / "home" / ".gpunet")
    assert get_cache_dir(env / "other") == str(env / "other")


def test_finds_file_in_gpunet_data_dir_first(env, monkeypatch):
    data = env / "data"
    data.mkdir()
    (data / "a.txt").write_text("from data dir")
    cached = cache_file(env, "a.txt")
    cached.parent.mkdir(parents=True)
    cached.write_text("from cache")
    monkeypatch.setenv("GPUNET_DATA_DIR", str(data))
    path = find_data_file("a.txt", origin=UNREACHABLE, file_hash=sha256(data / "a.txt"))
    assert path == str(data / "a.txt")
    monkeypatch.delenv("GPUNET_DATA_DIR")
    assert find_data_file("a.txt") == str(cached)


def test_data_dir_subfolder_and_path_list(env, monkeypatch):
    empty, data = env / "empty", env / "data"
    (data / "fashion-mnist").mkdir(parents=True)
    empty.mkdir()
    (data / "fashion-mnist" / "f.gz").write_bytes(b"x")
    monkeypatch.setenv("GPUNET_DATA_DIR", os.pathsep.join([str(empty), str(data)]))
    path = find_data_file("f.gz", cache_subdir="datasets/fashion-mnist")
    assert path == str(data / "fashion-mnist" / "f.gz")
    assert data_search_dirs("datasets/fashion-mnist")[:4] == [
        str(empty),
        str(empty / "fashion-mnist"),
        str(data),
        str(data / "fashion-mnist"),
    ]


def test_accepts_existing_keras_cache_file(env):
    keras_file = env / "home" / ".keras" / "datasets" / "k.npz"
    keras_file.parent.mkdir(parents=True)
    keras_file.write_bytes(b"keras")
    assert find_data_file("k.npz", origin=UNREACHABLE, file_hash=sha256(keras_file)) == str(
        keras_file
    )


def test_local_file_with_wrong_hash_is_rejected(env, monkeypatch):
    data = env / "data"
    data.mkdir()
    (data / "a.txt").write_text("tampered")
    monkeypatch.setenv("GPUNET_DATA_DIR", str(data))
    with pytest.raises(ValueError, match="does not match") as info:
        find_data_file("a.txt", origin=UNREACHABLE, file_hash="0" * 64)
    assert "not used" in str(info.value)
    assert str(data / "a.txt") in str(info.value)


def test_hash_none_skips_verification_and_tuple_accepts_any(env, monkeypatch):
    data = env / "data"
    data.mkdir()
    (data / "a.txt").write_text("content")
    monkeypatch.setenv("GPUNET_DATA_DIR", str(data))
    assert find_data_file("a.txt", file_hash=None) == str(data / "a.txt")
    accepted = ("f" * 64, sha256(data / "a.txt"))
    assert find_data_file("a.txt", file_hash=accepted) == str(data / "a.txt")


def test_md5_and_auto_algorithms(env, source):
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    assert hash_file(source, "md5") == md5
    assert hash_file(source) == sha256(source)
    assert validate_file(source, md5)  # auto: 32 hex digits -> md5
    assert validate_file(source, sha256(source))
    assert not validate_file(source, "0" * 64)
    assert find_data_file(str(source), file_hash=md5, hash_algorithm="md5") == str(source)
    with pytest.raises(ValueError, match="hash_algorithm"):
        find_data_file(str(source), file_hash=md5, hash_algorithm="sha1")


def test_bad_arguments_name_the_argument(env):
    with pytest.raises(TypeError, match="file_hash"):
        find_data_file("a", file_hash=123)
    with pytest.raises(TypeError, match="fname"):
        find_data_file("")
    with pytest.raises(ValueError, match="origin"):
        find_data_file("missing.bin", origin="gopher://x/y")


# ---------------------------------------------------------------------------------- download


def test_download_via_file_url_verifies_and_renames_atomically(env, source, capsys):
    path = get_file("payload.bin", origin=source.as_uri(), file_hash=sha256(source))
    target = cache_file(env, "payload.bin")
    assert path == str(target)
    assert target.read_bytes() == source.read_bytes()
    # only the final file remains: no temporary ".part" file
    assert os.listdir(target.parent) == ["payload.bin"]
    err = capsys.readouterr().err
    assert "Downloading payload.bin" in err and "100%" in err
    # a second call uses the cache: the origin is gone and is not needed
    source.unlink()
    assert get_file("payload.bin", origin=source.as_uri(), file_hash=sha256(target)) == path


def test_download_uses_replace(env, source, monkeypatch):
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((src, dst))
        return real_replace(src, dst)

    monkeypatch.setattr(data_utils.os, "replace", spy)
    get_file("payload.bin", origin=source.as_uri(), file_hash=sha256(source))
    assert len(calls) == 1
    src, dst = calls[0]
    assert dst == str(cache_file(env, "payload.bin"))
    assert os.path.dirname(src) == os.path.dirname(dst) and src.endswith(".part")


def test_download_with_hash_mismatch_is_deleted_and_not_used(env, source):
    with pytest.raises(ValueError, match="does not match") as info:
        get_file("payload.bin", origin=source.as_uri(), file_hash="0" * 64)
    message = str(info.value)
    assert "not used" in message and source.as_uri() in message
    cache = cache_file(env, "payload.bin").parent
    assert not cache.exists() or os.listdir(cache) == []


def test_fname_none_uses_origin_basename_and_hash_none(env, source):
    path = get_file(None, origin=source.as_uri())
    assert os.path.basename(path) == "payload.bin"


def test_custom_cache_dir_and_subdir(env, source):
    path = get_file("p.bin", origin=source.as_uri(), cache_dir=env / "cc", cache_subdir="models")
    assert path == str(env / "cc" / "models" / "p.bin")


def test_offline_error_names_file_url_and_where_to_put_it(env, monkeypatch):
    monkeypatch.setenv("GPUNET_DATA_DIR", str(env / "data"))
    with pytest.raises(DatasetNotFoundError) as info:
        get_file("mnist.npz", origin=UNREACHABLE, file_hash="0" * 64)
    err = info.value
    assert isinstance(err, OSError)
    message = str(err)
    assert "mnist.npz" in message
    assert UNREACHABLE in message
    assert "GPUNET_DATA_DIR" in message
    assert str(env / "data") in message
    assert str(env / "gpunet_home" / "datasets") in message
    cache = cache_file(env, "mnist.npz").parent
    assert not cache.exists() or os.listdir(cache) == []


def test_missing_file_url_is_reported_as_not_found(env):
    with pytest.raises(DatasetNotFoundError, match="nothere.bin"):
        get_file("nothere.bin", origin=(env / "nothere.bin").as_uri())


def test_no_origin_not_found(env):
    with pytest.raises(DatasetNotFoundError, match=r"'ghost\.npz'.*GPUNET_DATA_DIR"):
        find_data_file("ghost.npz")


# ---------------------------------------------------------------------------------- extract


def _make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_extract_tar_gz(env):
    archive = env / "remote" / "bundle.tar.gz"
    archive.parent.mkdir()
    _make_tar(archive, {"bundle/a.txt": b"A", "bundle/sub/b.txt": b"B"})
    out = get_file("bundle.tar.gz", origin=archive.as_uri(), extract=True)
    assert out == str(cache_file(env, "bundle_extracted"))
    assert pathlib.Path(out, "bundle", "a.txt").read_bytes() == b"A"
    assert pathlib.Path(out, "bundle", "sub", "b.txt").read_bytes() == b"B"
    # a second call reuses the extraction
    assert get_file("bundle.tar.gz", origin=UNREACHABLE, extract=True) == out


def test_extract_zip(env):
    archive = env / "remote" / "z.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/c.txt", "C")
    out = get_file("z.zip", origin=archive.as_uri(), extract=True)
    assert pathlib.Path(out, "inner", "c.txt").read_text() == "C"


def test_extract_refuses_path_traversal(env):
    archive = env / "remote" / "evil.tar.gz"
    archive.parent.mkdir()
    _make_tar(archive, {"../escaped.txt": b"no"})
    with pytest.raises(ValueError, match="outside"):
        get_file("evil.tar.gz", origin=archive.as_uri(), extract=True)
    assert not (cache_file(env, "escaped.txt")).exists()
    assert not (env / "gpunet_home" / "escaped.txt").exists()


def test_extract_rejects_non_archive(env, source):
    with pytest.raises(ValueError, match="tar or zip"):
        get_file("payload.bin", origin=source.as_uri(), extract=True)


# --------------------------------------------------------------------------------- load_npz


def test_load_npz_reads_numeric_and_object_arrays(tmp_path):
    seqs = np.empty(2, dtype=object)
    seqs[0], seqs[1] = [1, 2, 3], [4]
    path = tmp_path / "a.npz"
    np.savez(path, x=seqs, y=np.array([0, 1], dtype=np.int64))
    arrays = load_npz(path)
    assert arrays["x"].dtype == object and list(arrays["x"][0]) == [1, 2, 3]
    np.testing.assert_array_equal(arrays["y"], [0, 1])


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_load_npz_refuses_arbitrary_pickles(tmp_path, capsys):
    arr = np.empty(1, dtype=object)
    arr[0] = _Evil()
    path = tmp_path / "evil.npz"
    np.savez(path, x=arr)
    with pytest.raises(Exception, match="Refusing"):
        load_npz(path)
    assert "must never run" not in capsys.readouterr().out
