"""Safe loading of pickled NumPy data and ``.npz`` archives (used by the dataset loaders).

Only the globals needed to rebuild NumPy arrays may be unpickled; anything else in a dataset
file (e.g. ``os.system`` through ``__reduce__``) is refused.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

# Rebuilding a NumPy array from a pickle needs only these globals. Anything else in a dataset
# file (e.g. ``os.system`` through ``__reduce__``) is refused.
_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        # Protocol-2 pickles written by Python 3 store bytes as `_codecs.encode(str, "latin1")`.
        ("_codecs", "encode"),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild NumPy arrays and builtin containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Refusing to load '{module}.{name}' from a dataset file: only NumPy arrays are "
            "allowed. The file may be corrupted or malicious."
        )


def restricted_pickle_load(f: io.BufferedIOBase | Any, encoding: str = "ASCII") -> Any:
    """Unpickles `f`, allowing only NumPy arrays, dtypes and builtin containers.

    Args:
        f: a binary file object.
        encoding: passed to `pickle.Unpickler` (use `"bytes"` for Python 2 pickles such as
            the CIFAR batches).

    Returns:
        The unpickled object.
    """
    return _RestrictedUnpickler(f, encoding=encoding).load()


def _read_npy(fp: io.BytesIO) -> np.ndarray:
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError:
        fp.seek(0)
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(fp)
        elif version[0] in (2, 3):
            # Format 3.0 differs from 2.0 only in the header's text encoding.
            np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"Unsupported .npy format version {version}.") from None
        return restricted_pickle_load(fp)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Loads every array of an ``.npz`` file, object arrays included, without unsafe pickles.

    A safe replacement for ``np.load(path, allow_pickle=True)``: numeric arrays are read with
    pickling disabled, and object arrays (ragged sequences, as in IMDB and Reuters) through an
    unpickler that can only rebuild NumPy arrays.

    Args:
        path: path of the ``.npz`` file.

    Returns:
        A dict mapping each array's name to the array.

    Example:

    >>> arrays = load_npz("imdb.npz")  # doctest: +SKIP
    >>> sorted(arrays)  # doctest: +SKIP
    ['x_test', 'x_train', 'y_test', 'y_train']
    """
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(os.fspath(path)) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as raw:
                buffer = io.BytesIO(raw.read())
            arrays[info.filename[: -len(".npy")]] = _read_npy(buffer)
    return arrays
