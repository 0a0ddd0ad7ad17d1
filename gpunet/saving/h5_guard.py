"""Reading HDF5 files that may be damaged or hostile, and the checksums gpunet writes.

* ``check_global_heaps``: HDF5 keeps variable-length strings (``model_config``,
  ``layer_names``, ...) in "global heap collections"; a collection whose object sizes do not
  add up (one flipped byte can do it) sends HDF5's parser into an endless loop. Each
  collection is walked here first, and an inconsistent one is refused.
* ``attr_guard``: an attribute's declared shape (and a fixed-length string's declared size)
  is checked before its value is read; a variable-length string longer than
  ``config_guard.MAX_CONFIG_BYTES`` is refused by the global heap walk.
* ``get_dataset``/``read_dataset``: a weight is looked up lazily; its declared shape and
  dtype (numeric kinds only, no external or virtual storage) are checked against the model
  before a byte of it is read, so a file that declares a 4 GiB weight costs nothing.
* ``write_dataset``: every dataset gpunet writes carries ``gpunet_sha256``, the SHA-256 of
  its dtype, shape and little-endian bytes; ``read_dataset`` verifies it when present (HDF5
  has no checksums of its own; Keras ignores the attribute and files without it still load).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from typing import Any

import numpy as np

from gpunet.saving.config_guard import MAX_CONFIG_BYTES
from gpunet.saving.load_errors import file_error

CHECKSUM_ATTR = "gpunet_sha256"
MAX_ATTR_ELEMENTS = 1 << 22
_GCOL = b"GCOL\x01\x00\x00\x00"


def _heap_problem(buf, a: int) -> str | None:
    """What is wrong with the global heap collection at offset ``a`` of ``buf`` (or None)."""
    if a + 16 > len(buf):
        return "its header is cut off"
    end = a + struct.unpack_from("<Q", buf, a + 8)[0]
    p = a + 16
    while p < end:
        if p + 16 > end:  # too little room for an object header: the tail is free space
            break
        if p + 16 > len(buf):
            return f"object at byte {p} lies past the end of the file"
        idx, _, _, size = struct.unpack_from("<HHIQ", buf, p)
        need = size if idx == 0 else 16 + ((size + 7) // 8) * 8
        if need == 0 or p + need > end:
            return f"object {idx} at byte {p} declares {size} bytes, past the collection's end"
        if idx and size > MAX_CONFIG_BYTES:  # a variable-length string longer than any config
            return (f"a string of {size} bytes (object {idx} at byte {p}), more than the "
                    f"{MAX_CONFIG_BYTES} bytes any Keras file holds")
        p += need
    return None


def check_global_heaps(filepath: str, data: bytes | None = None) -> None:
    """Refuses a file (path, or its ``data``) holding an inconsistent global heap collection.

    Raises:
        ModelFileError: naming the file and the offset of the damaged collection.
    """
    if data is None:
        with open(filepath, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _check(mm, filepath)
    _check(data, filepath)


def _check(buf, filepath: str) -> None:
    a = buf.find(_GCOL)
    while a >= 0:
        problem = _heap_problem(buf, a)
        if problem and problem.startswith("a string"):
            raise file_error(filepath, f"its global heap at byte {a} holds {problem}; it is "
                                       "refused before it is read")
        if problem:
            raise file_error(filepath, f"the file is damaged: its global heap at byte {a} is "
                                       f"inconsistent ({problem})")
        a = buf.find(_GCOL, a + 1)


def attr_guard(obj, name: str, fixed_size: int | None = None) -> None:
    """Checks, before its value is read, that attribute ``name`` of ``obj`` is a string
    attribute (or an empty array: Keras's empty list) of a sane number of elements, and of
    ``fixed_size`` bytes per string when given. A damaged datatype message can make HDF5 read
    a string as a variable-length sequence of another type, which crashes the process."""
    from h5py import h5t

    aid = obj.attrs.get_id(name)
    shape = aid.shape
    n = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if n > MAX_ATTR_ELEMENTS:
        raise ValueError(f"attribute '{name}' of '{obj.name}' declares {n} elements (shape "
                         f"{shape}), more than any Keras file holds")
    tid = aid.get_type()
    cls = tid.get_class()
    if cls == h5t.STRING:
        if not tid.is_variable_str() and tid.get_size() * n > MAX_CONFIG_BYTES:
            raise ValueError(f"attribute '{name}' of '{obj.name}' declares "
                             f"{tid.get_size() * n} bytes of text, more than the "
                             f"{MAX_CONFIG_BYTES} any Keras file holds")
        if fixed_size is not None and (tid.is_variable_str() or tid.get_size() != fixed_size):
            raise ValueError(f"attribute '{name}' of '{obj.name}' is not a string of "
                             f"{fixed_size} characters")
        return
    if n == 0 and cls in (h5t.FLOAT, h5t.INTEGER) and fixed_size is None:
        return
    raise ValueError(f"attribute '{name}' of '{obj.name}' should hold text but its datatype is "
                     f"of HDF5 class {cls} (shape {shape}): the file is damaged")


def get_dataset(group, name: str, filepath: str, what: str):
    """``group[name]`` as an unread dataset, checked: numeric dtype, a shape, internal
    storage.

    Raises:
        ModelFileError: naming the file and ``what`` (e.g. "weight 'kernel:0' of layer 'd'").
    """
    import h5py

    obj = group.get(name)
    if obj is None:
        raise file_error(filepath, f"the file is damaged: {what} is missing")
    if not isinstance(obj, h5py.Dataset):
        raise file_error(filepath, f"the file is damaged: {what} is a {type(obj).__name__}, "
                                   "not a dataset")
    check_dataset(obj, filepath, what)
    return obj


def check_dataset(ds, filepath: str, what: str) -> None:
    """Refuses non-numeric, shapeless, external or virtual datasets before any read."""
    if ds.dtype.kind not in "biuf" or ds.shape is None:
        raise file_error(filepath, f"{what} has dtype {ds.dtype} and shape {ds.shape}; a weight "
                                   "is a numeric (bool, int or float) array")
    if ds.is_virtual or ds.external:
        raise file_error(filepath, f"{what} keeps its data outside the file (external or "
                                   "virtual storage), which gpunet refuses to read")


def digest(a: Any) -> str:
    """SHA-256 hex digest of an array's little-endian dtype, shape and bytes."""
    a = np.asarray(a)
    dt = a.dtype.newbyteorder("<")
    h = hashlib.sha256(f"{dt.str}{a.shape}".encode())
    h.update(memoryview(np.ascontiguousarray(a, dtype=dt)).cast("B"))
    return h.hexdigest()


def write_dataset(group, name: str, data: Any):
    """``group.create_dataset(name, data=data)`` plus its ``gpunet_sha256`` attribute."""
    a = np.asarray(data)
    ds = group.create_dataset(name, data=a)
    ds.attrs[CHECKSUM_ATTR] = np.bytes_(digest(a))
    return ds


def read_dataset(ds, filepath: str, what: str) -> np.ndarray:
    """Reads a dataset checked by ``check_dataset`` and verifies its checksum when present.

    Raises:
        ModelFileError: when the data do not match their checksum.
    """
    a = np.asarray(ds[()])
    if CHECKSUM_ATTR in ds.attrs:
        try:
            attr_guard(ds, CHECKSUM_ATTR, 64)
        except ValueError as e:
            raise file_error(filepath, f"the file is damaged: the checksum of {what} is not a "
                                       f"64-character string ({e})") from None
        want = bytes(ds.attrs[CHECKSUM_ATTR]).decode("ascii", "replace")
        if digest(a) != want:
            raise file_error(filepath, f"the file is damaged: {what} does not match the SHA-256 "
                                       "checksum gpunet stored when it saved the file (if it "
                                       "was edited on purpose, delete the dataset's attribute "
                                       f"'{CHECKSUM_ATTR}')")
    return a


CONFIG_DIGEST_ATTR = "gpunet_config_sha256"
_CONFIG_ATTRS = ("model_config", "training_config")


def _text(v: Any) -> bytes:
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    return v if isinstance(v, bytes) else str(v).encode("utf8", "surrogateescape")


def config_digest(f) -> str:
    """SHA-256 over the ``model_config`` and ``training_config`` attributes of ``f`` and the
    names of its top-level groups (so that a damaged ``optimizer_weights`` link is not
    mistaken for a file saved without optimizer state)."""
    h = hashlib.sha256("\0".join(sorted(f.keys())).encode("utf8", "surrogateescape") + b"\0")
    for name in _CONFIG_ATTRS:
        if name in f.attrs:
            attr_guard(f, name)
            h.update(name.encode() + b"\0" + _text(f.attrs[name]) + b"\0")
    return h.hexdigest()


def write_config_digest(f) -> None:
    """Stores ``config_digest(f)`` as the root attribute ``gpunet_config_sha256``."""
    f.attrs[CONFIG_DIGEST_ATTR] = np.bytes_(config_digest(f))


def verify_config_digest(f, filepath: str) -> None:
    """Checks ``gpunet_config_sha256`` when the file has it.

    Raises:
        ModelFileError: when the stored configs do not match their checksum.
    """
    if CONFIG_DIGEST_ATTR not in f.attrs:
        return
    attr_guard(f, CONFIG_DIGEST_ATTR, 64)
    if bytes(f.attrs[CONFIG_DIGEST_ATTR]).decode("ascii", "replace") != \
            config_digest(f):
        raise file_error(filepath, "the file is damaged: its model_config, training_config "
                                   "or top-level groups do not match the SHA-256 checksum "
                                   "gpunet stored when it saved the file (if they were edited "
                                   f"on purpose, delete the root attribute '{CONFIG_DIGEST_ATTR}')")


def declared_elements(group) -> int:
    """The number of elements the datasets under ``group`` declare (their shapes; nothing is
    read): what a model built from the file may hold in weights."""
    import h5py

    total = [0]

    def add(_name, obj):
        if isinstance(obj, h5py.Dataset) and obj.shape is not None:
            total[0] += int(np.prod(obj.shape, dtype=np.float64))

    group.visititems(add)
    return total[0]
