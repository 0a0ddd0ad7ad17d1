"""Tests for gpunet.datasets. They never touch the network: small files in Keras's exact
formats are written to tmp_path and found through GPUNET_DATA_DIR."""

import gzip
import hashlib
import io
import json
import os
import pathlib
import pickle
import pickletools
import struct
import tarfile

import numpy as np
import pytest

from gpunet.datasets import (
    boston_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from gpunet.utils.data_utils import DatasetNotFoundError


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def md5(path):
    return hashlib.md5(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty GPUNET_DATA_DIR, with the caches isolated in tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GPUNET_HOME", str(tmp_path / "gpunet_home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("GPUNET_DATA_DIR", str(data))
    return data


def object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


# ------------------------------------------------------------------------------------- MNIST


def write_tiny_mnist(path):
    rng = np.random.RandomState(0)
    arrays = {
        "x_train": rng.randint(0, 256, size=(5, 28, 28)).astype(np.uint8),
        "y_train": np.array([0, 1, 2, 3, 4], dtype=np.uint8),
        "x_test": rng.randint(0, 256, size=(2, 28, 28)).astype(np.uint8),
        "y_test": np.array([9, 8], dtype=np.uint8),
    }
    np.savez_compressed(path, **arrays)
    return arrays


def test_mnist_accepts_keras_and_mirror_hashes():
    assert mnist.KERAS_SHA256 in mnist.ACCEPTED_HASHES
    assert mnist.MIRROR_SHA256 in mnist.ACCEPTED_HASHES
    assert mnist.ORIGIN == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert mnist.KERAS_SHA256 == (
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    )


def test_mnist_tiny_file(data_dir, monkeypatch):
    arrays = write_tiny_mnist(data_dir / "mnist.npz")
    monkeypatch.setattr(mnist, "ACCEPTED_HASHES", (sha256(data_dir / "mnist.npz"),))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert x_train.dtype == y_train.dtype == np.uint8
    assert x_train.shape == (5, 28, 28) and y_test.shape == (2,)


def test_mnist_file_with_unknown_hash_is_not_used(data_dir, monkeypatch):
    write_tiny_mnist(data_dir / "mnist.npz")
    monkeypatch.setattr(mnist, "ORIGIN", "http://127.0.0.1:9/mnist.npz")
    with pytest.raises(ValueError, match="does not match.*not used"):
        mnist.load_data()


def test_mnist_offline_message(data_dir, monkeypatch):
    monkeypatch.setattr(mnist, "ORIGIN", "http://127.0.0.1:9/mnist.npz")
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "mnist.npz" in message and "http://127.0.0.1:9/mnist.npz" in message
    assert "GPUNET_DATA_DIR" in message and str(data_dir) in message


def _real_mnist_dir():
    env = os.environ.get("GPUNET_DATA_DIR")
    candidates = [env] if env else []
    # The project's shared data folder, next to the repository root.
    candidates.append(
        str(pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets")
    )
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "mnist.npz")):
            return os.path.abspath(c)
    return None


@pytest.mark.skipif(_real_mnist_dir() is None, reason="the real mnist.npz is not available")
def test_real_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUNET_DATA_DIR", _real_mnist_dir())
    monkeypatch.setenv("GPUNET_HOME", str(tmp_path / "gpunet_home"))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    expected = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_train, minlength=10).tolist() == expected
    assert int(x_train.max()) == 255 and int(x_train.min()) == 0


# ------------------------------------------------------------------------------ Fashion-MNIST


def write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files(data_dir, monkeypatch):
    sub = data_dir / "fashion-mnist"
    sub.mkdir()
    rng = np.random.RandomState(1)
    x_train = rng.randint(0, 256, size=(3, 28, 28)).astype(np.uint8)
    x_test = rng.randint(0, 256, size=(2, 28, 28)).astype(np.uint8)
    y_train, y_test = np.array([9, 0, 4], np.uint8), np.array([1, 2], np.uint8)
    write_idx(sub / "train-labels-idx1-ubyte.gz", y_train, 2049)
    write_idx(sub / "train-images-idx3-ubyte.gz", x_train, 2051)
    write_idx(sub / "t10k-labels-idx1-ubyte.gz", y_test, 2049)
    write_idx(sub / "t10k-images-idx3-ubyte.gz", x_test, 2051)
    hashes = {name: sha256(sub / name) for name in fashion_mnist.FILES}
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", hashes)
    (a, b), (c, d) = fashion_mnist.load_data()
    np.testing.assert_array_equal(a, x_train)
    np.testing.assert_array_equal(b, y_train)
    np.testing.assert_array_equal(c, x_test)
    np.testing.assert_array_equal(d, y_test)
    assert a.dtype == b.dtype == np.uint8 and a.shape == (3, 28, 28)


# ------------------------------------------------------------------------------------- CIFAR


def cifar_pixels(n, offset):
    """Row-major CIFAR rows: value at (image k, channel c, row i, col j) is known."""
    k, c, i, j = np.meshgrid(
        np.arange(n), np.arange(3), np.arange(32), np.arange(32), indexing="ij"
    )
    return ((offset + 7 * k + 50 * c + i + 2 * j) % 256).astype(np.uint8).reshape(n, 3072)


def expected_images(n, offset):
    k, i, j, c = np.meshgrid(
        np.arange(n), np.arange(32), np.arange(32), np.arange(3), indexing="ij"
    )
    return ((offset + 7 * k + 50 * c + i + 2 * j) % 256).astype(np.uint8)


class _Py2Pickler(pickle._Pickler):
    """Pickles like Python 2 did for the real CIFAR files: `str`/`bytes` as BINSTRING and
    NumPy's reconstructor under its old module name `numpy.core.multiarray`."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        if isinstance(obj, str):
            obj = obj.encode("latin1")
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickle(obj):
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def test_py2_pickle_helper_writes_python2_opcodes():
    ops = {op.name: arg for op, arg, _ in pickletools.genops(py2_pickle({b"k": b"v"}))}
    assert "SHORT_BINSTRING" in ops and "GLOBAL" not in ops
    arr_ops = [
        arg
        for op, arg, _ in pickletools.genops(py2_pickle(np.zeros(2, np.uint8)))
        if op.name == "GLOBAL"
    ]
    assert "numpy.core.multiarray _reconstruct" in arr_ops


def add_pickle(tar, name, obj):
    data = py2_pickle(obj)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def cifar10_batches():
    batches = {}
    for b in range(1, 6):
        batches[f"data_batch_{b}"] = {
            b"batch_label": f"training batch {b} of 5".encode(),
            b"labels": [(2 * b) % 10, (2 * b + 1) % 10],
            b"data": cifar_pixels(2, offset=10 * b),
            b"filenames": [b"a.png", b"b.png"],
        }
    batches["test_batch"] = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [3, 7, 9],
        b"data": cifar_pixels(3, offset=100),
        b"filenames": [b"c.png", b"d.png", b"e.png"],
    }
    return batches


def write_cifar10_tar(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, obj in batches.items():
            add_pickle(tar, f"cifar-10-batches-py/{name}", obj)
        add_pickle(tar, "cifar-10-batches-py/batches.meta", {b"label_names": [b"airplane"]})


def check_cifar10(result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (3, 32, 32, 3) and x_test.dtype == np.uint8
    assert y_test.shape == (3, 1) and y_test.dtype == np.uint8
    assert y_train.ravel().tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert y_test.ravel().tolist() == [3, 7, 9]
    for b in range(1, 6):
        np.testing.assert_array_equal(x_train[2 * (b - 1) : 2 * b], expected_images(2, 10 * b))
    np.testing.assert_array_equal(x_test, expected_images(3, 100))
    # channel 0 of pixel (0, 0) of the first image: offset 10, nothing added
    assert x_train[0, 0, 0, 0] == 10 and x_train[0, 0, 0, 1] == 60 and x_train[0, 1, 2, 0] == 15


def test_cifar10_from_tar_gz(data_dir, monkeypatch):
    write_cifar10_tar(data_dir / "cifar-10-python.tar.gz", cifar10_batches())
    monkeypatch.setattr(cifar10, "ACCEPTED_HASHES", (sha256(data_dir / "cifar-10-python.tar.gz"),))
    check_cifar10(cifar10.load_data())


def test_cifar10_from_extracted_folder(data_dir):
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir()
    for name, obj in cifar10_batches().items():
        # also a modern protocol: only the pickle opcodes differ
        (folder / name).write_bytes(pickle.dumps(obj, protocol=4))
    check_cifar10(cifar10.load_data())
    data, labels = cifar10.load_batch(folder / "test_batch")
    assert data.shape == (3, 3, 32, 32) and labels == [3, 7, 9]


def test_cifar10_archive_with_wrong_hash_is_not_used(data_dir, monkeypatch):
    write_cifar10_tar(data_dir / "cifar-10-python.tar.gz", cifar10_batches())
    with pytest.raises(ValueError, match="does not match.*not used"):
        cifar10.load_data()


def test_cifar10_missing_batch_is_reported(data_dir, monkeypatch):
    batches = cifar10_batches()
    del batches["data_batch_3"]
    write_cifar10_tar(data_dir / "cifar-10-python.tar.gz", batches)
    monkeypatch.setattr(cifar10, "ACCEPTED_HASHES", (sha256(data_dir / "cifar-10-python.tar.gz"),))
    with pytest.raises(ValueError, match="data_batch_3"):
        cifar10.load_data()


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_batch_refuses_arbitrary_pickles(tmp_path, capsys):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        cifar10.load_batch(path)
    assert "must never run" not in capsys.readouterr().out


def write_cifar100_tar(path):
    with tarfile.open(path, "w:gz") as tar:
        add_pickle(
            tar,
            "cifar-100-python/train",
            {
                b"filenames": [b"x", b"y"],
                b"batch_label": b"training batch 1 of 1",
                b"fine_labels": [19, 99],
                b"coarse_labels": [11, 19],
                b"data": cifar_pixels(2, offset=5),
            },
        )
        add_pickle(
            tar,
            "cifar-100-python/test",
            {
                b"filenames": [b"z"],
                b"batch_label": b"testing batch 1 of 1",
                b"fine_labels": [42],
                b"coarse_labels": [3],
                b"data": cifar_pixels(1, offset=200),
            },
        )
        add_pickle(
            tar,
            "cifar-100-python/meta",
            {
                b"fine_label_names": [],
            },
        )


def test_cifar100_fine_and_coarse(data_dir, monkeypatch):
    archive = data_dir / "cifar-100-python.tar.gz"
    write_cifar100_tar(archive)
    monkeypatch.setattr(cifar100, "ACCEPTED_HASHES", (sha256(archive),))
    (x_train, y_train), (x_test, y_test) = cifar100.load_data()
    assert x_train.shape == (2, 32, 32, 3) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, expected_images(2, 5))
    np.testing.assert_array_equal(x_test, expected_images(1, 200))
    assert y_train.shape == (2, 1) and y_train.ravel().tolist() == [19, 99]
    assert y_test.ravel().tolist() == [42]
    assert y_train.dtype == np.int64  # as in Keras
    (_, y_train), (_, y_test) = cifar100.load_data(label_mode="coarse")
    assert y_train.ravel().tolist() == [11, 19] and y_test.ravel().tolist() == [3]


def test_cifar100_rejects_bad_label_mode():
    with pytest.raises(ValueError, match="label_mode.*'medium'"):
        cifar100.load_data(label_mode="medium")


# -------------------------------------------------------------------------------------- IMDB

# Raw reviews (before Keras's shifting). With seed=113 the shuffle keeps the train order and
# swaps the two test reviews.
IMDB_X_TRAIN = [[1, 5, 2], [3, 4]]
IMDB_Y_TRAIN = [1, 0]
IMDB_X_TEST = [[6, 1], [2, 2, 7]]
IMDB_Y_TEST = [0, 1]


@pytest.fixture
def tiny_imdb(data_dir, monkeypatch):
    path = data_dir / "imdb.npz"
    np.savez(
        path,
        x_train=object_array(IMDB_X_TRAIN),
        y_train=np.array(IMDB_Y_TRAIN, dtype=np.int64),
        x_test=object_array(IMDB_X_TEST),
        y_test=np.array(IMDB_Y_TEST, dtype=np.int64),
    )
    monkeypatch.setattr(imdb, "ACCEPTED_HASHES", (sha256(path),))
    return path


def as_lists(x):
    return [list(s) for s in x]


def test_imdb_default_shifting(tiny_imdb):
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    # start_char=1 prepended, index_from=3 added:
    #   train [1,5,2] -> [1,4,8,5]; [3,4] -> [1,6,7]
    #   test (swapped by the shuffle) [2,2,7] -> [1,5,5,10]; [6,1] -> [1,9,4]
    # num_words=None becomes max index 10, and Keras keeps w < num_words, so 10 -> oov 2.
    assert as_lists(x_train) == [[1, 4, 8, 5], [1, 6, 7]]
    assert as_lists(x_test) == [[1, 5, 5, 2], [1, 9, 4]]
    assert y_train.tolist() == [1, 0] and y_test.tolist() == [1, 0]
    assert x_train.dtype == object and x_train.shape == (2,)
    assert all(isinstance(w, int) for s in x_train for w in s)


def test_imdb_num_words_and_skip_top(tiny_imdb):
    (x_train, _), (x_test, _) = imdb.load_data(num_words=7, skip_top=4)
    # keep 4 <= w < 7, others -> 2 (the start char 1 is below skip_top, so it becomes 2 too)
    assert as_lists(x_train) == [[2, 4, 2, 5], [2, 6, 2]]
    assert as_lists(x_test) == [[2, 5, 5, 2], [2, 2, 4]]


def test_imdb_oov_none_drops_words(tiny_imdb):
    (x_train, _), (x_test, _) = imdb.load_data(num_words=7, oov_char=None)
    assert as_lists(x_train) == [[1, 4, 5], [1, 6]]
    assert as_lists(x_test) == [[1, 5, 5], [1, 4]]


def test_imdb_maxlen_keeps_shorter_sequences(tiny_imdb):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(maxlen=4)
    # only sequences of length < 4 survive; the max index is then 9, which becomes oov
    assert as_lists(x_train) == [[1, 6, 7]] and y_train.tolist() == [0]
    assert as_lists(x_test) == [[1, 2, 4]] and y_test.tolist() == [0]
    with pytest.raises(ValueError, match="maxlen=2"):
        imdb.load_data(maxlen=2)


def test_imdb_no_start_char_no_offset(tiny_imdb):
    (x_train, _), (x_test, _) = imdb.load_data(start_char=None, index_from=0)
    assert as_lists(x_train) == [[1, 5, 2], [3, 4]]
    assert as_lists(x_test) == [[2, 2, 2], [6, 1]]


def test_imdb_seed_changes_order(tiny_imdb):
    # seed 0: the train pair is swapped, the test pair is not
    (x_train, y_train), (x_test, y_test) = imdb.load_data(seed=0)
    assert as_lists(x_train) == [[1, 6, 7], [1, 4, 8, 5]] and y_train.tolist() == [0, 1]
    assert as_lists(x_test) == [[1, 9, 4], [1, 5, 5, 2]] and y_test.tolist() == [0, 1]


def test_imdb_argument_errors(tiny_imdb):
    with pytest.raises(ValueError, match="num_words"):
        imdb.load_data(num_words=-1)
    with pytest.raises(ValueError, match="skip_top"):
        imdb.load_data(skip_top=None)


def test_imdb_word_index(data_dir, monkeypatch):
    path = data_dir / "imdb_word_index.json"
    path.write_text(json.dumps({"the": 1, "and": 2, "film": 19}))
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", (md5(path),))
    assert imdb.get_word_index() == {"the": 1, "and": 2, "film": 19}
    assert imdb.WORD_INDEX_MD5 != ("bfafd718b763782e994055a2d397834f",)  # patched
    monkeypatch.undo()


def test_imdb_word_index_default_hash_is_keras_md5():
    assert imdb.WORD_INDEX_MD5 == ("bfafd718b763782e994055a2d397834f",)
    assert imdb.ACCEPTED_HASHES == (
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    )


# ----------------------------------------------------------------------------------- Reuters


@pytest.fixture
def tiny_reuters(data_dir, monkeypatch):
    path = data_dir / "reuters.npz"
    xs = [[1], [2, 3], [4, 5, 6], [7], [8, 9]]
    np.savez(path, x=object_array(xs), y=np.array([0, 1, 2, 3, 4], dtype=np.int64))
    monkeypatch.setattr(reuters, "ACCEPTED_HASHES", (sha256(path),))
    return path


def test_reuters_defaults(tiny_reuters):
    (x_train, y_train), (x_test, y_test) = reuters.load_data()
    # seed 113 orders the samples [1, 0, 3, 2, 4]; shifted by 3 with start char 1; the max
    # index (12) becomes oov; split at int(5 * 0.8) = 4
    assert as_lists(x_train) == [[1, 5, 6], [1, 4], [1, 10], [1, 7, 8, 9]]
    assert y_train.tolist() == [1, 0, 3, 2]
    assert as_lists(x_test) == [[1, 11, 2]] and y_test.tolist() == [4]
    assert x_train.dtype == object and x_train.shape == (4,)


def test_reuters_test_split_maxlen_num_words(tiny_reuters):
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=0.5, maxlen=3, num_words=6)
    # len < 3 keeps [1,4] (y 0), [1,10] (y 3); vocabulary cut w < 6 -> [1,4], [1,2]
    assert as_lists(x_train) == [[1, 4]] and y_train.tolist() == [0]
    assert as_lists(x_test) == [[1, 2]] and y_test.tolist() == [3]


def test_reuters_label_names_and_word_index(data_dir, monkeypatch):
    names = reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[-1] == "lead"
    path = data_dir / "reuters_word_index.json"
    path.write_text(json.dumps({"the": 1}))
    monkeypatch.setattr(reuters, "WORD_INDEX_MD5", (md5(path),))
    assert reuters.get_word_index() == {"the": 1}


def test_reuters_rejects_bad_test_split(tiny_reuters):
    with pytest.raises(ValueError, match="test_split"):
        reuters.load_data(test_split=1.5)


# ---------------------------------------------------------------------------- Boston housing


def test_boston_housing_split(data_dir, monkeypatch):
    path = data_dir / "boston_housing.npz"
    x = np.tile(np.arange(10, dtype=np.float64)[:, None], (1, 13))
    y = np.arange(10, dtype=np.float64) * 1.5
    np.savez(path, x=x, y=y)
    monkeypatch.setattr(boston_housing, "ACCEPTED_HASHES", (sha256(path),))
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    # RandomState(113) permutes range(10) to [9, 3, 6, 1, 0, 7, 4, 8, 2, 5]
    assert x_train[:, 0].tolist() == [9, 3, 6, 1, 0, 7, 4, 8]
    assert x_test[:, 0].tolist() == [2, 5]
    np.testing.assert_array_equal(y_train, x_train[:, 0] * 1.5)
    assert x_train.shape == (8, 13) and x_train.dtype == np.float64 and y_test.shape == (2,)
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)


# ------------------------------------------------------------------------------------ Digits


DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_is_bundled_and_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUNET_DATA_DIR", str(tmp_path))  # nothing there: no lookup happens
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1437, 8, 8) and x_test.shape == (360, 8, 8)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert int(x_train.max()) == 16 and int(x_train.min()) == 0
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    assert counts.tolist() == DIGITS_CLASS_COUNTS


def test_digits_split_is_seeded_and_disjoint():
    (a1, b1), (c1, d1) = digits.load_data()
    (a2, b2), (c2, d2) = digits.load_data()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(d1, d2)
    (a3, _), _ = digits.load_data(seed=1)
    assert not np.array_equal(a1, a3)
    x_all, y_all = digits._load_all()
    rng = np.random.RandomState(113)
    idx = np.arange(1797)
    rng.shuffle(idx)
    np.testing.assert_array_equal(a1, x_all[idx[:1437]])
    np.testing.assert_array_equal(d1, y_all[idx[1437:]])
    (a4, _), (c4, _) = digits.load_data(test_split=0.5)
    assert len(a4) == 898 and len(c4) == 899


def test_digits_rejects_bad_test_split():
    with pytest.raises(ValueError, match="test_split"):
        digits.load_data(test_split=1)


def test_package_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, gpunet.datasets; print('sklearn' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=str(pathlib.Path(__file__).resolve().parents[2]),
        check=True,
    )
    assert out.stdout.strip() == "False"
