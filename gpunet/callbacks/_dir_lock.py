"""An exclusive lock on a folder, held by one process at a time (``BackupAndRestore``).

The lock is ``fcntl.flock`` on a file in the folder that names its owner (pid and host).
The kernel drops the lock when its process dies, so a folder left by a killed run is taken
over by the next one without any check of pids. Within one process the lock is re-entrant:
a ``fit`` that ended by an exception (its callback never saw ``on_train_end``) does not block
the next ``fit`` of the same process on the same folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

LOCK_NAME = "backup.lock"
# realpath of a folder -> (pid, fd) for the locks this process holds
_HELD: dict[str, tuple[int, int]] = {}


def _owner(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(200).strip()
    except OSError:
        text = ""
    return text or "an unknown process"


class DirLock:
    """The lock on ``folder`` (created if missing).

    Args:
        folder: the folder to lock.
        owner: how errors name the caller, e.g. ``"BackupAndRestore"``.
    """

    def __init__(self, folder: str, owner: str) -> None:
        self.folder, self.owner = folder, owner
        self.path = os.path.join(folder, LOCK_NAME)
        self._key = os.path.realpath(folder)

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        entry = _HELD.get(self._key)
        return entry is not None and entry[0] == os.getpid()

    def acquire(self) -> None:
        """Takes the lock, or raises ``RuntimeError`` naming the process that holds it."""
        if self.held:
            fd = _HELD[self._key][1]
            try:
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    return
            except OSError:
                pass
            del _HELD[self._key]  # the folder was removed under us: lock it afresh
            os.close(fd)
        os.makedirs(self.folder, exist_ok=True)
        if fcntl is None:
            warnings.warn(f"{self.owner}: this platform has no file locking; make sure that no "
                          f"other run uses {self.folder!r} at the same time.", stacklevel=3)
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise RuntimeError(
                    f"{self.owner}: the backup folder {self.folder!r} is in use by another "
                    f"training run ({_owner(self.path)}, per {self.path!r}). Two runs must not "
                    "share a backup folder: give each its own `backup_dir`.") from None
            try:  # the previous owner may have removed the file between our open and flock
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode())
        _HELD[self._key] = (os.getpid(), fd)

    def release(self) -> None:
        """Removes the lock file and drops the lock (no-op when not held)."""
        if not self.held:
            return
        _, fd = _HELD.pop(self._key)
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still locked: a waiting process re-checks the inode
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
