"""HDF5 plumbing shared by the savers: atomic writes, checked opening, Keras's chunked attributes.

Attribute spelling follows Keras's legacy writer exactly: a list of names is stored as a
variable-length string array (``group.attrs[name] = [b"dense", ...]``), an empty list as an
empty float64 array, and a list whose fixed-length form exceeds 64 512 bytes as fixed-length
chunks ``name0``, ``name1``, ...
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gpunet.saving.atomic import atomic_replace, write_bytes  # noqa: F401 - re-exported
from gpunet.saving.h5_guard import attr_guard, check_global_heaps
from gpunet.saving.load_errors import file_error, load_errors

HDF5_OBJECT_HEADER_LIMIT = 64512


def h5py():
    """The ``h5py`` module, with a clear message when it is missing."""
    try:
        import h5py as _h5py
    except ImportError:
        raise ImportError("Saving and loading .h5 files needs h5py: `pip install h5py`.") from None
    return _h5py


def atomic_write(filepath: str, writer: Callable[[Any], None], overwrite: bool = True) -> None:
    """Runs ``writer(h5file)`` on an HDF5 file built in memory, then writes its bytes to a
    temporary file next to ``filepath``, fsyncs it and renames it over ``filepath``
    (``atomic.write_bytes``): a crash or a full disk at any point leaves the old file intact,
    and HDF5 itself never writes to the disk."""
    buf = io.BytesIO()
    with h5py().File(buf, "w") as f:
        writer(f)
    write_bytes(filepath, buf.getbuffer(), overwrite)


@contextlib.contextmanager
def open_h5(filepath: str) -> Iterator[Any]:
    """Opens ``filepath`` for reading; errors name the file and say what is wrong with it."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No file or directory found at {filepath!r}.")
    if os.path.isdir(filepath):
        raise ValueError(f"{filepath!r} is a directory (a TensorFlow SavedModel?); gpunet reads "
                         "Keras HDF5 files (.h5).")
    lib = h5py()
    import zipfile

    if zipfile.is_zipfile(filepath):
        raise ValueError(f"File {filepath!r} is a Keras 3 native '.keras' (zip) archive, not an "
                         "HDF5 file: load it with gpunet.models.load_model.")
    if not lib.is_hdf5(filepath):
        raise ValueError(f"File {filepath!r} is not an HDF5 file: it is truncated, damaged or in "
                         "another format. gpunet reads Keras-layout .h5 files.")
    check_global_heaps(filepath)
    try:
        f = lib.File(filepath, "r")
    except Exception as e:  # noqa: BLE001 - any failure to open is a damaged file
        raise file_error(filepath, f"the file is damaged or truncated ({e})") from e
    try:
        with load_errors(filepath):
            yield f
    finally:
        with contextlib.suppress(Exception):
            f.close()


def decode(x: Any) -> Any:
    """``bytes``/``np.bytes_`` → ``str``; anything else unchanged."""
    return x.decode("utf8") if isinstance(x, (bytes, np.bytes_)) else x


def save_attributes(group, name: str, data: list) -> None:
    """Stores a list of strings as Keras does (see the module docstring)."""
    data = [s.encode("utf8") if isinstance(s, str) else bytes(s) for s in data]
    bad = [x for x in data if len(x) > HDF5_OBJECT_HEADER_LIMIT]
    if bad:
        raise RuntimeError("The following attributes cannot be saved to HDF5 file because they "
                           f"are larger than {HDF5_OBJECT_HEADER_LIMIT} bytes: {bad}")
    arr = np.asarray(data)
    n_chunks = 1
    chunks = np.array_split(arr, n_chunks)
    while any(c.nbytes > HDF5_OBJECT_HEADER_LIMIT for c in chunks):
        n_chunks += 1
        chunks = np.array_split(arr, n_chunks)
    if n_chunks > 1:
        for i, c in enumerate(chunks):
            group.attrs[f"{name}{i}"] = c
    else:
        group.attrs[name] = data


def load_attributes(group, name: str) -> list[str]:
    """Reads an attribute written by ``save_attributes`` (whole or chunked) as strings."""
    if name in group.attrs:
        attr_guard(group, name)
        return [decode(x) for x in group.attrs[name]]
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        attr_guard(group, f"{name}{i}")
        out.extend(decode(x) for x in group.attrs[f"{name}{i}"])
        i += 1
    return out


def has_attribute(group, name: str) -> bool:
    """True when ``name`` (or its first chunk ``name0``) is an attribute of ``group``."""
    return name in group.attrs or f"{name}0" in group.attrs


def read_string_attr(group, name: str) -> str | None:
    """A scalar string attribute as ``str`` (bytes decoded), or None when absent."""
    if name not in group.attrs:
        return None
    attr_guard(group, name)
    v = group.attrs[name]
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    return decode(v)
