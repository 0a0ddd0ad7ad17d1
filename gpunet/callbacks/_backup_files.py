"""The files of a ``BackupAndRestore`` folder: their names, the metadata, and cleanup.

A backup folder holds ``training_metadata.json`` (the commit record), the checkpoints
``ckpt-<n>.weights.h5`` and ``ckpt-<n>.optimizer.npz`` that it names, ``backup.lock`` while a
run holds the folder, and, after a crash while saving, temporary files ``.<one of those
names>.<suffix>.tmp``. Only names of these forms are ever read, written or removed; the
metadata may name a checkpoint only as a plain ``ckpt-<n>``, never a path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable
from typing import Any

from gpunet.atomic_io import atomic_replace
from gpunet.callbacks._dir_lock import LOCK_NAME

METADATA = "training_metadata.json"
SUFFIXES = (".weights.h5", ".optimizer.npz")
_CKPT = re.compile(r"ckpt-[1-9][0-9]{0,17}")
_FILE = re.compile(r"(ckpt-[1-9][0-9]{0,17})\.(?:weights\.h5|optimizer\.npz)")
_TEMP = re.compile(r"\.(?:ckpt-[0-9]+\.(?:weights\.h5|optimizer\.npz)|"
                   + re.escape(METADATA) + r")\..+\.tmp")
_MAX_METADATA_BYTES = 4 << 20


def atomic_write(path: str, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Writes ``path`` through ``write(file)`` (a file opened with ``mode``) with gpunet's
    atomic writer (``gpunet.atomic_io.atomic_replace``): a temporary file beside ``path``,
    fsynced and renamed over it; a full disk is an ``OSError`` naming ``path`` and leaves the
    previous file as it was."""

    def to_temp(tmp: str) -> None:
        with open(tmp, mode.replace("w", "x")) as f:
            write(f)

    atomic_replace(path, to_temp)


def checkpoint_paths(folder: str, name: str) -> list[str]:
    """The weights and optimizer files of checkpoint ``name``."""
    return [os.path.join(folder, name + s) for s in SUFFIXES]


def _bad(path: str, what: str) -> ValueError:
    return ValueError(f"BackupAndRestore: {path!r} {what}. It was not written by "
                      "BackupAndRestore or has been altered; nothing was restored and no file "
                      "was removed. Delete or move the backup folder to start afresh.")


def _int(entry: dict, key: str, path: str, optional: bool = False) -> None:
    v = entry.get(key)
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _bad(path, f"has {key}={v!r}; expected a non-negative integer")


def check_entry(entry: Any, path: str) -> dict:
    """Validates one checkpoint record of the metadata (``latest`` or ``previous``)."""
    if not isinstance(entry, dict):
        raise _bad(path, f"holds a checkpoint record {entry!r}; expected an object")
    name = entry.get("checkpoint")
    if not isinstance(name, str) or not _CKPT.fullmatch(name):
        raise _bad(path, f"names the checkpoint {name!r}; expected a plain name 'ckpt-<n>' "
                         "inside the backup folder")
    _int(entry, "epoch", path)
    _int(entry, "batch", path, optional=True)
    _int(entry, "iterations", path, optional=True)
    lr = entry.get("learning_rate")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                           or not math.isfinite(lr)):
        raise _bad(path, f"has learning_rate={lr!r}; expected a finite number")
    rng = entry.get("random_state")
    if rng is not None and not isinstance(rng, dict):
        raise _bad(path, f"has random_state of type {type(rng).__name__}; expected an object")
    return entry


def read_metadata(folder: str) -> dict | None:
    """The validated metadata of ``folder``, or None when there is none."""
    path = os.path.join(folder, METADATA)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _bad(path, f"cannot be opened ({e.strerror}; a link is refused)") from None
    try:
        with os.fdopen(fd, "rb") as f:
            raw = f.read(_MAX_METADATA_BYTES + 1)
    except OSError as e:
        raise _bad(path, f"cannot be read ({e})") from None
    if len(raw) > _MAX_METADATA_BYTES:
        raise _bad(path, f"is larger than {_MAX_METADATA_BYTES} bytes")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _bad(path, f"is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise _bad(path, f"holds a {type(meta).__name__}; expected an object")
    _int(meta, "counter", path, optional=True)
    if meta.get("latest") is None:
        raise _bad(path, "has no 'latest' checkpoint record")
    for key in ("latest", "previous"):
        if meta.get(key) is not None:
            check_entry(meta[key], path)
    return meta


def referenced(meta: dict | None) -> set[str]:
    """The checkpoint names the metadata refers to."""
    return {meta[k]["checkpoint"] for k in ("latest", "previous") if meta and meta.get(k)}


def ours(name: str) -> bool:
    """True for a file name this callback may have written in its folder."""
    return (name in (METADATA, LOCK_NAME) or _FILE.fullmatch(name) is not None
            or _TEMP.fullmatch(name) is not None)


def clean(folder: str, keep: set[str], everything: bool = False) -> list[str]:
    """Removes checkpoints not in ``keep`` and every temporary file of ours (the caller holds
    the folder's lock, so no writer is alive); with ``everything``, also the metadata. Files
    whose names are not ours are never touched. Returns the removed names."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    removed = []
    for n in sorted(names):
        m = _FILE.fullmatch(n)
        drop = (_TEMP.fullmatch(n) is not None or (m is not None and m[1] not in keep)
                or (everything and n == METADATA))
        if drop:
            with contextlib.suppress(OSError):  # gone already, or a folder of that name
                os.unlink(os.path.join(folder, n))
                removed.append(n)
    return removed
