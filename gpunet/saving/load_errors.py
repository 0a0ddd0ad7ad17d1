"""One error for a model or weights file that cannot be loaded: ``ModelFileError``.

HDF5, zip and JSON readers fail in many ways on a damaged or hostile file (``KeyError``,
``UnicodeDecodeError``, ``OSError`` with an HDF5 stack, ``BadZipFile``, ``RecursionError``,
...). The loaders run under ``load_errors``, which turns each of those into one
``ModelFileError`` (an ``OSError`` and a ``ValueError``) whose message reads
``Could not load '<file>': <what>``, with the original exception chained. gpunet's own
errors that already name the file, and subclasses of ``ValueError`` other than the codec and
JSON ones, pass through unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any


class ModelFileError(OSError, ValueError):
    """A model, weights or archive file that cannot be loaded: damaged, truncated, hostile
    (absurd sizes) or not a Keras file. The message names the file and what is wrong."""


def file_error(filepath: Any, what: str) -> ModelFileError:
    """``ModelFileError("Could not load '<file>': <what>")``."""
    return ModelFileError(f"Could not load {os.fspath(filepath)!r}: {what}")


_RAW = (KeyError, IndexError, UnicodeError, TypeError, AttributeError, RuntimeError, OSError,
        EOFError, zipfile.BadZipFile, zlib.error, struct.error, OverflowError, MemoryError,
        json.JSONDecodeError, NotImplementedError)


def _names_file(e: BaseException, filepath: str) -> bool:
    text = str(e)
    return filepath in text or os.path.basename(filepath) in text


def convert(e: BaseException, filepath: str) -> BaseException | None:
    """The ``ModelFileError`` that replaces ``e``, or None when ``e`` passes through."""
    if isinstance(e, ModelFileError):
        return None
    if isinstance(e, (FileNotFoundError, FileExistsError, IsADirectoryError)) and \
            _names_file(e, filepath):
        return None
    if isinstance(e, _RAW) or (type(e) is ValueError and not _names_file(e, filepath)):
        detail = f"{type(e).__name__}: {str(e)[:500]}"
        if isinstance(e, PermissionError):
            return file_error(filepath, f"permission denied ({detail})")
        if isinstance(e, MemoryError):
            return file_error(filepath, f"out of memory ({detail})")
        return file_error(filepath, "the file is damaged, truncated or not a Keras file "
                                    f"({detail})")
    return None


@contextlib.contextmanager
def load_errors(filepath: Any) -> Iterator[None]:
    """Runs the body, turning raw reader exceptions into ``ModelFileError`` (see the module
    docstring)."""
    filepath = os.fspath(filepath)
    try:
        yield
    except Exception as e:
        new = convert(e, filepath)
        if new is None:
            raise
        raise new from e


def loader(arg: int = 0) -> Callable:
    """Decorates a loader whose positional argument ``arg`` (or keyword ``filepath``) is the
    file, so that it raises ``ModelFileError`` instead of raw reader exceptions."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            path = args[arg] if len(args) > arg else kwargs.get("filepath", "<file>")
            if not isinstance(path, (str, bytes, os.PathLike)):
                return fn(*args, **kwargs)
            with load_errors(path):
                return fn(*args, **kwargs)

        return wrapper

    return deco
