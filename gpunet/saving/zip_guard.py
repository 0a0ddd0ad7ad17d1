"""Reading ``.keras`` (zip) archives that may be damaged or hostile.

A member is read only after its declared uncompressed size has been compared with what the
model can need (``member_limit``: the JSON files at most ``JSON_LIMIT`` bytes; the weights
file a few times the model's weights in float64, for the optimizer slots, plus room for
HDF5's own structures). ``zipfile`` never returns more than the declared size and checks
the CRC-32 at the end, so a member that lies about its size fails too. A deflated member
declaring more than deflate can produce from its compressed size (about 1032:1) is refused
as well. A 3 MB zip bomb therefore costs milliseconds, not minutes and gigabytes.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from gpunet.saving.load_errors import file_error

JSON_LIMIT = 32 << 20
_DEFLATE_MAX_RATIO = 1100
_H5_OVERHEAD = 32 << 20


def open_zip(filepath: str) -> zipfile.ZipFile:
    """Opens a ``.keras`` archive for reading (members are checked when read).

    Raises:
        FileNotFoundError: when ``filepath`` does not exist.
        ModelFileError: when it is not a readable zip archive.
    """
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No file or directory found at {filepath!r}.")
    try:
        return zipfile.ZipFile(filepath, "r")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise file_error(filepath, f"it is not a valid Keras 3 '.keras' (zip) archive: it is "
                                   f"truncated, damaged or in another format ({e})") from e


def weights_limit(model) -> int:
    """The largest ``model.weights.h5`` a model can need: its weights in float64 plus four
    optimizer slots each, plus HDF5 overhead."""
    n = sum(int(np.prod(w.shape)) for w in model.weights)
    return 8 * 8 * n + _H5_OVERHEAD


def read_member(z: zipfile.ZipFile, name: str, filepath: str, limit: int) -> bytes:
    """Member ``name`` of ``z``, after checking its declared size against ``limit``.

    Raises:
        ModelFileError: when the member declares more than ``limit`` bytes, an impossible
            compression ratio, or its data do not match its size or CRC.
    """
    info = z.getinfo(name)
    size, packed = info.file_size, info.compress_size
    if size > limit:
        raise file_error(filepath, f"archive member {name!r} declares {size} bytes "
                                   f"uncompressed, more than the {limit} bytes it can need "
                                   "(a damaged file or a zip bomb)")
    if info.compress_type == zipfile.ZIP_DEFLATED and size > _DEFLATE_MAX_RATIO * packed + 1024:
        raise file_error(filepath, f"archive member {name!r} declares {size} bytes from "
                                   f"{packed} compressed bytes, a ratio deflate cannot "
                                   "produce (a damaged file or a zip bomb)")
    with z.open(info) as fh:
        data = fh.read(size + 1)
    if len(data) != size:
        raise file_error(filepath, f"archive member {name!r} holds {len(data)} bytes, not the "
                                   f"{size} it declares")
    return data


def open_weights(z: zipfile.ZipFile, name: str, filepath: str, model):
    """The HDF5 member ``name`` opened in memory, after size and global-heap checks."""
    from gpunet.saving.h5_guard import check_global_heaps
    from gpunet.saving.h5_utils import h5py

    data = read_member(z, name, filepath, weights_limit(model))
    check_global_heaps(filepath, data)
    return h5py().File(io.BytesIO(data), "r")
