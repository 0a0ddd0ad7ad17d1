"""Safe extraction of tar and zip archives: no member may land outside the destination,
and no link may point outside it."""

from __future__ import annotations

import os
import tarfile
import zipfile


def _is_within(directory: str, target: str) -> bool:
    directory = os.path.realpath(directory)
    target = os.path.realpath(target)
    return os.path.commonpath([directory, target]) == directory


def _safe_extract_tar(path: str, dest: str) -> None:
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        for m in members:
            if os.path.isabs(m.name) or not _is_within(dest, os.path.join(dest, m.name)):
                raise ValueError(
                    f"Refusing to extract {path}: member {m.name!r} would be written outside "
                    f"the destination {dest}."
                )
            if (m.issym() or m.islnk()) and not _is_within(
                dest, os.path.join(dest, os.path.dirname(m.name), m.linkname)
            ):
                raise ValueError(
                    f"Refusing to extract {path}: link {m.name!r} points outside the "
                    f"destination ({m.linkname!r})."
                )
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - Python without PEP 706
            tar.extractall(dest, members=[m for m in members if m.isfile() or m.isdir()])


def _safe_extract_zip(path: str, dest: str) -> None:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if os.path.isabs(name) or not _is_within(dest, os.path.join(dest, name)):
                raise ValueError(
                    f"Refusing to extract {path}: member {name!r} would be written outside "
                    f"the destination {dest}."
                )
        zf.extractall(dest)
