"""CIFAR-10 small images classification dataset (and the CIFAR parsing shared with CIFAR-100)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet.utils.data_utils import (
    DatasetNotFoundError,
    data_search_dirs,
    find_data_file,
    restricted_pickle_load,
)

__all__ = ["load_data", "load_batch"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
# The name tf.keras gave the archive in ~/.keras/datasets.
LEGACY_ARCHIVE_NAME = "cifar-10-batches-py.tar.gz"
DIRNAME = "cifar-10-batches-py"
ACCEPTED_HASHES: tuple[str, ...] = (
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
)
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)


def _parse_batch(fileobj: Any, label_key: str, source: str) -> tuple[np.ndarray, list]:
    d = restricted_pickle_load(fileobj, encoding="bytes")
    if not isinstance(d, dict):
        raise ValueError(
            f"{source} is not a CIFAR batch: expected a pickled dict, got {type(d).__name__}."
        )
    d = {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(
            f"{source} is not a CIFAR batch with label key {label_key!r}: expected the keys "
            f"'data' and {label_key!r}, found {sorted(d)}."
        )
    data = np.asarray(d["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{source}: expected 'data' of shape (N, 3072), found shape {data.shape}.")
    labels = list(d[label_key])
    if len(labels) != data.shape[0]:
        raise ValueError(
            f"{source}: {data.shape[0]} images but {len(labels)} labels under {label_key!r}."
        )
    return data.reshape(data.shape[0], 3, 32, 32), labels


def load_batch(fpath: str | os.PathLike, label_key: str = "labels") -> tuple[np.ndarray, list]:
    """Parses one CIFAR batch file (a Python pickle of a dict).

    Args:
        fpath: path of the batch file (e.g. ``cifar-10-batches-py/data_batch_1``).
        label_key: key of the labels in the pickled dict (`"labels"` for CIFAR-10,
            `"fine_labels"` or `"coarse_labels"` for CIFAR-100).

    Returns:
        A tuple `(data, labels)`: a `uint8` array of shape `(N, 3, 32, 32)` and a list of
        `N` integer labels.

    Example:

    >>> data, labels = load_batch("cifar-10-batches-py/test_batch")  # doctest: +SKIP
    >>> data.shape
    (10000, 3, 32, 32)
    """
    with open(fpath, "rb") as f:
        return _parse_batch(f, label_key, os.fspath(fpath))


def _find_extracted(dirname: str, members: Sequence[str]) -> str | None:
    """An already-extracted batch folder holding every member, if there is one."""
    for base in data_search_dirs():
        folder = os.path.join(base, dirname)
        if all(os.path.isfile(os.path.join(folder, m)) for m in members):
            return folder
    return None


def _find_archive(names: Sequence[str], origin: str, hashes: Sequence[str]) -> str:
    """The verified archive: a local copy under any of `names`, else a download."""
    for name in names:
        try:
            return find_data_file(name, origin=None, file_hash=tuple(hashes))
        except DatasetNotFoundError:
            continue
    return find_data_file(names[0], origin=origin, file_hash=tuple(hashes))


def _read_members(
    archive: str, dirname: str, members: Sequence[str], label_key: str
) -> dict[str, tuple[np.ndarray, list]]:
    """Parses the wanted batch files straight out of the tar.gz archive, in one pass."""
    wanted = {f"{dirname}/{m}": m for m in members}
    found: dict[str, tuple[np.ndarray, list]] = {}
    with tarfile.open(archive, "r|*") as tar:
        for info in tar:
            name = info.name[2:] if info.name.startswith("./") else info.name
            if name in wanted and info.isfile():
                fileobj = tar.extractfile(info)
                assert fileobj is not None
                data = io.BytesIO(fileobj.read())
                found[wanted[name]] = _parse_batch(data, label_key, f"{archive}:{name}")
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(
            f"The archive {archive} does not hold the expected CIFAR files: missing "
            + ", ".join(f"{dirname}/{m}" for m in missing)
            + "."
        )
    return found


def _load_parts(
    *,
    archive_names: Sequence[str],
    origin: str,
    hashes: Sequence[str],
    dirname: str,
    members: Sequence[str],
    label_key: str,
) -> dict[str, tuple[np.ndarray, list]]:
    folder = _find_extracted(dirname, members)
    if folder is not None:
        return {m: load_batch(os.path.join(folder, m), label_key) for m in members}
    archive = _find_archive(archive_names, origin, hashes)
    return _read_members(archive, dirname, members, label_key)


def _channels_last() -> bool:
    try:
        from gpunet.backend.config import image_data_format
    except ImportError:  # pragma: no cover - backend not importable
        return True
    return image_data_format() == "channels_last"


def _to_output_layout(x: np.ndarray) -> np.ndarray:
    if _channels_last():
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the CIFAR-10 dataset.

    50,000 32x32 colour training images and 10,000 test images, labelled over 10
    categories. See the [CIFAR homepage](https://www.cs.toronto.edu/~kriz/cifar.html).

    The data are read from an extracted ``cifar-10-batches-py/`` folder if one is found in
    ``$GPUNET_DATA_DIR`` or the caches, otherwise from the archive ``cifar-10-python.tar.gz``
    (found locally or downloaded from the CIFAR homepage, sha256-checked), whose pickled
    batches are parsed directly without unpacking it to disk.

    | Label | Description |
    |:-----:|-------------|
    |   0   | airplane    |
    |   1   | automobile  |
    |   2   | bird        |
    |   3   | cat         |
    |   4   | deer        |
    |   5   | dog         |
    |   6   | frog        |
    |   7   | horse       |
    |   8   | ship        |
    |   9   | truck       |

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`: `uint8` array of shape `(50000, 32, 32, 3)` (channels last, the
          default image data format; `(50000, 3, 32, 32)` with channels first).
        - `y_train`: `uint8` array of labels (0 to 9) of shape `(50000, 1)`.
        - `x_test`: `uint8` array of shape `(10000, 32, 32, 3)`.
        - `y_test`: `uint8` array of shape `(10000, 1)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.cifar10.load_data()
    assert x_train.shape == (50000, 32, 32, 3)
    assert y_train.shape == (50000, 1)
    ```
    """
    parts = _load_parts(
        archive_names=(ARCHIVE_NAME, LEGACY_ARCHIVE_NAME),
        origin=ORIGIN,
        hashes=ACCEPTED_HASHES,
        dirname=DIRNAME,
        members=TRAIN_FILES + TEST_FILES,
        label_key="labels",
    )
    x_train = np.concatenate([parts[m][0] for m in TRAIN_FILES]).astype(np.uint8, copy=False)
    y_train = np.concatenate([np.asarray(parts[m][1], dtype=np.uint8) for m in TRAIN_FILES])
    x_test = parts[TEST_FILES[0]][0].astype(np.uint8, copy=False)
    y_test = np.asarray(parts[TEST_FILES[0]][1], dtype=np.uint8)

    y_train = y_train.reshape(len(y_train), 1)
    y_test = y_test.reshape(len(y_test), 1)
    return (_to_output_layout(x_train), y_train), (_to_output_layout(x_test), y_test)
