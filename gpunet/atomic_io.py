"""Crash-safe file replacement: write a temporary file beside the target, fsync, rename.

The one atomic writer of gpunet (model and weights files, ``BackupAndRestore``'s checkpoints
and metadata); it imports nothing from gpunet, so every layer of the package may use it
(``gpunet.saving.atomic`` re-exports it).

Every saver builds its file in memory first (HDF5 images through ``h5py`` on a ``BytesIO``,
zip archives likewise), so the only disk I/O is plain ``os.write`` calls: a full disk or a
file-size limit is a clean ``OSError`` that names the destination, the previous file stays
intact and the temporary file is removed.

Temporary files are named ``.<name>.<host>-<pid>-<random>.tmp`` in the target's folder. A
process killed while saving leaves one behind; the next save to the same path removes those
whose writer is gone: written on this host by a process that no longer runs, or (any host,
any name) not modified for ``STALE_AFTER_S`` seconds. A live writer's temporary file, in
this process or another, is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import time
from collections.abc import Callable

STALE_AFTER_S = 3600.0
_CHUNK = 1 << 24
# the tail of a temporary name: ".<host>-<pid>-<8 hex>.tmp", or tempfile.mkstemp's ".<8 chars>.tmp"
# (older gpunet versions; only the age rule applies to those)
_OURS = re.compile(r".*\.(?:(?P<host>\w+)-(?P<pid>\d+)-[0-9a-f]{8}|[a-z0-9_]{8})\.tmp\Z")


def _host() -> str:
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname()) or "host"


def temp_name(filepath: str) -> str:
    """A fresh temporary path for ``filepath``: ``.<name>.<host>-<pid>-<random>.tmp``."""
    d, base = os.path.split(os.path.abspath(filepath))
    return os.path.join(d, f".{base}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _pid_running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def is_stale(tmp_path: str, now: float | None = None) -> bool:
    """True when the temporary file ``tmp_path`` has no live writer (see the module doc)."""
    try:
        age = (time.time() if now is None else now) - os.stat(tmp_path).st_mtime
    except OSError:
        return False
    if age > STALE_AFTER_S:
        return True
    m = _OURS.match(os.path.basename(tmp_path))
    if m is None or m["pid"] is None:
        return False
    pid = int(m["pid"])
    return m["host"] == _host() and pid != os.getpid() and not _pid_running(pid)


def stale_temps(filepath: str) -> list[str]:
    """The temporary files of ``filepath`` left by dead writers."""
    d, base = os.path.split(os.path.abspath(filepath))
    prefix = f".{base}."
    try:
        names = os.listdir(d)
    except OSError:
        return []
    cands = [os.path.join(d, n) for n in names
             if n.startswith(prefix) and _OURS.match(n[len(prefix) - 1:])]
    return [p for p in cands if is_stale(p)]


def remove_stale_temps(filepath: str) -> list[str]:
    """Removes the stale temporary files of ``filepath``; returns the removed paths."""
    removed = []
    for p in stale_temps(filepath):
        with contextlib.suppress(OSError):
            os.unlink(p)
            removed.append(p)
    return removed


def _save_error(e: OSError, filepath: str) -> OSError:
    what = e.strerror or str(e)
    if e.errno == errno.EFBIG:
        what += " (the file size limit of this process)"
    return OSError(e.errno, f"Could not save {filepath!r}: {what}; the previous file, if any, "
                            "is unchanged")


def _fsync_dir(d: str) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_replace(filepath: str, write: Callable[[str], None], overwrite: bool = True) -> None:
    """Runs ``write(tmp_path)`` on a temporary path beside ``filepath``, fsyncs it and renames
    it over ``filepath`` (then fsyncs the folder): the old file survives a crash or a full
    disk. Stale temporary files of ``filepath`` are removed first.

    Args:
        filepath: the destination.
        write: writes the complete file at the path it is given.
        overwrite: replace an existing file (else ``FileExistsError``).

    Raises:
        OSError: naming ``filepath`` when the disk is full or another write error occurs.
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"File {filepath!r} exists and overwrite=False.")
    d = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(d, exist_ok=True)
    remove_stale_temps(filepath)
    tmp = temp_name(filepath)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, filepath)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, FileExistsError):
            raise _save_error(e, filepath) from e
        raise
    _fsync_dir(d)


def write_bytes(filepath: str, data: bytes | bytearray | memoryview,
                overwrite: bool = True) -> None:
    """Writes ``data`` to ``filepath`` atomically (see ``atomic_replace``) with plain
    ``os.write`` calls.

    Args:
        filepath: the destination.
        data: the complete file contents.
        overwrite: replace an existing file (else ``FileExistsError``).
    """

    def write(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o666)
        try:
            view = memoryview(data).cast("B")
            while view:
                n = os.write(fd, view[:_CHUNK])
                view = view[n:]
        finally:
            os.close(fd)

    atomic_replace(filepath, write, overwrite)
