"""Locating, downloading, verifying and unpacking data files.

Files are looked up, in this order:

1. the directory named by the environment variable ``GPUNET_DATA_DIR`` (several directories
   may be given, separated by ``os.pathsep``), directly or in the sub-folder named by
   ``cache_subdir`` without its leading ``datasets`` component;
2. the gpunet cache, ``$GPUNET_HOME/<cache_subdir>`` (``GPUNET_HOME`` defaults to
   ``~/.gpunet``), or ``<cache_dir>/<cache_subdir>`` when ``cache_dir`` is given;
3. the Keras cache, ``$KERAS_HOME/<cache_subdir>`` (default ``~/.keras``), so that files
   Keras already downloaded are reused;
4. otherwise the file is downloaded from ``origin`` into the gpunet cache.

Downloads go to a temporary file in the cache directory, are checked against the expected
hash and only then renamed (atomically, with ``os.replace``) to their final name, so an
interrupted or corrupted transfer never leaves a file that a later call would trust.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from gpunet.utils.archives import _safe_extract_tar, _safe_extract_zip
from gpunet.utils.file_hashes import (  # noqa: F401 (hash_file, validate_file re-exported)
    HashSpec,
    _describe_expected,
    _hash_matches,
    _normalize_hashes,
    _resolve_algorithm,
    hash_file,
    validate_file,
)
from gpunet.utils.safe_load import load_npz, restricted_pickle_load  # noqa: F401 (re-exported)

__all__ = [
    "DatasetNotFoundError",
    "data_search_dirs",
    "find_data_file",
    "get_file",
    "get_cache_dir",
    "hash_file",
    "validate_file",
]

DATA_DIR_ENV = "GPUNET_DATA_DIR"
HOME_ENV = "GPUNET_HOME"
KERAS_HOME_ENV = "KERAS_HOME"

_CHUNK_SIZE = 1 << 16
_DOWNLOAD_TIMEOUT_S = 60
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")



class DatasetNotFoundError(FileNotFoundError):
    """A data file is neither available locally nor downloadable (e.g. the machine is offline).

    It is a subclass of `FileNotFoundError` (hence of `OSError`), so ``except OSError`` catches
    it. The message names the file, the URL that was tried and where to place the file by hand.
    """


# --------------------------------------------------------------------------------------------
# Directories
# --------------------------------------------------------------------------------------------


def get_cache_dir(cache_dir: str | os.PathLike | None = None) -> str:
    """Returns the base directory of the gpunet cache.

    Args:
        cache_dir: explicit base directory. When `None`, ``$GPUNET_HOME`` is used if set,
            else ``~/.gpunet``.

    Returns:
        The absolute path of the base cache directory (it may not exist yet).

    Example:

    >>> import os
    >>> os.environ["GPUNET_HOME"] = "/tmp/gpunet-home"
    >>> get_cache_dir()
    '/tmp/gpunet-home'
    """
    if cache_dir is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))
    env = os.environ.get(HOME_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".gpunet")


def _data_dirs() -> list[str]:
    value = os.environ.get(DATA_DIR_ENV, "")
    return [os.path.abspath(os.path.expanduser(p)) for p in value.split(os.pathsep) if p]


def _keras_cache_dir() -> str:
    env = os.environ.get(KERAS_HOME_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".keras")


def _subdir_below_datasets(cache_subdir: str) -> str:
    """``"datasets/fashion-mnist"`` -> ``"fashion-mnist"``; ``"datasets"`` -> ``""``."""
    parts = [p for p in cache_subdir.replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[0] == "datasets":
        parts = parts[1:]
    return os.path.join(*parts) if parts else ""


def data_search_dirs(cache_subdir: str = "datasets") -> list[str]:
    """Lists the local directories searched for data files, in lookup order.

    Args:
        cache_subdir: cache sub-directory of the files (as given to `get_file`).

    Returns:
        The ``$GPUNET_DATA_DIR`` directories (each directly and, for a ``cache_subdir`` below
        ``datasets``, its matching sub-folder), then the gpunet cache and the Keras cache.

    Example:

    >>> data_search_dirs()  # doctest: +SKIP
    ['/data', '/home/me/.gpunet/datasets', '/home/me/.keras/datasets']
    """
    dirs = []
    sub = _subdir_below_datasets(cache_subdir)
    for data_dir in _data_dirs():
        dirs.append(data_dir)
        if sub:
            dirs.append(os.path.join(data_dir, sub))
    dirs.append(os.path.join(get_cache_dir(), cache_subdir))
    dirs.append(os.path.join(_keras_cache_dir(), cache_subdir))
    return list(dict.fromkeys(os.path.normpath(d) for d in dirs))


def _candidate_paths(fname: str, cache_subdir: str, cache_dir: str | None) -> list[str]:
    if os.path.isabs(fname):
        return [fname]
    candidates = []
    sub = _subdir_below_datasets(cache_subdir)
    for data_dir in _data_dirs():
        candidates.append(os.path.join(data_dir, fname))
        if sub:
            candidates.append(os.path.join(data_dir, sub, fname))
    candidates.append(os.path.join(get_cache_dir(cache_dir), cache_subdir, fname))
    candidates.append(os.path.join(_keras_cache_dir(), cache_subdir, fname))
    # Drop duplicates while keeping the order.
    return list(dict.fromkeys(os.path.normpath(c) for c in candidates))


# --------------------------------------------------------------------------------------------
# Hashes
# --------------------------------------------------------------------------------------------


def _format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class _ProgressBar:
    """A plain-text progress bar on stderr, drawn only when the total size is known."""

    def __init__(self, name: str, total: int | None, width: int = 30):
        self.name = name
        self.total = total if total and total > 0 else None
        self.width = width
        self._last_percent = -1

    def update(self, done: int) -> None:
        if self.total is None:
            return
        percent = min(100, int(100 * done / self.total))
        if percent == self._last_percent:
            return
        self._last_percent = percent
        filled = int(self.width * percent / 100)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled)
        bar = bar[: self.width]
        sys.stderr.write(
            f"\rDownloading {self.name}: [{bar}] {percent:3d}% "
            f"{_format_size(done)} / {_format_size(self.total)}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.total is not None and self._last_percent >= 0:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def _writable_cache_subdir(cache_subdir: str, cache_dir: str | None) -> str:
    """The cache sub-directory where new files go, created if needed."""
    directory = os.path.join(get_cache_dir(cache_dir), cache_subdir)
    if not _writable_dir(directory) and cache_dir is None:
        # Like Keras: fall back to a temporary directory when the home cache is read-only.
        directory = os.path.join(tempfile.gettempdir(), ".gpunet", cache_subdir)
        os.makedirs(directory, exist_ok=True)
    return directory


def _download_target(fname: str, cache_subdir: str, cache_dir: str | None) -> str:
    if os.path.isabs(fname):
        os.makedirs(os.path.dirname(fname) or ".", exist_ok=True)
        return fname
    target = os.path.join(_writable_cache_subdir(cache_subdir, cache_dir), fname)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return target


def _not_found_message(
    fname: str, origin: str | None, reason: str, cache_subdir: str, cache_dir: str | None
) -> str:
    cache_path = os.path.join(get_cache_dir(cache_dir), cache_subdir)
    data_dirs = _data_dirs()
    where_env = f"(currently {os.pathsep.join(data_dirs)})" if data_dirs else "(currently not set)"
    head = f"Could not find the data file '{fname}' locally"
    if origin:
        head += f", and downloading it from {origin} failed: {reason}."
    else:
        head += f" and no download origin was given ({reason})."
    return (
        f"{head} If this machine is offline, download the file elsewhere"
        + (f" from {origin}" if origin else "")
        + f" and place it, named '{os.path.basename(fname)}', in the directory named by the "
        f"environment variable ${DATA_DIR_ENV} {where_env} or in the cache directory "
        f"{cache_path}."
    )


def _download(origin: str, target: str, hashes: tuple[str, ...], hash_algorithm: str) -> None:
    """Downloads ``origin`` to ``target`` through a verified temporary file."""
    directory = os.path.dirname(target) or "."
    fd, tmp_path = tempfile.mkstemp(
        prefix="." + os.path.basename(target) + ".", suffix=".part", dir=directory
    )
    try:
        request = urllib.request.Request(origin, headers={"User-Agent": "gpunet"})
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length and length.isdigit() else None
            bar = _ProgressBar(os.path.basename(target), total)
            done = 0
            try:
                while True:
                    chunk = response.read(_CHUNK_SIZE)
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(done)
            finally:
                bar.close()
        if total is not None and done != total:
            raise OSError(f"the transfer stopped after {done} of {total} bytes")
        if hashes:
            ok, actual = _hash_matches(tmp_path, hashes, hash_algorithm)
            if not ok:
                raise ValueError(
                    f"The file downloaded from {origin} has hash {actual}, which does not match "
                    f"{_describe_expected(hashes)}. The download was deleted and the file was "
                    "not used; the remote file may have changed or the transfer was corrupted."
                )
        os.replace(tmp_path, target)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def find_data_file(
    fname: str,
    origin: str | None = None,
    file_hash: HashSpec = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "sha256",
    cache_dir: str | os.PathLike | None = None,
) -> str:
    """Finds a data file locally, or downloads it into the cache.

    The lookup order is ``$GPUNET_DATA_DIR``, the gpunet cache (``$GPUNET_HOME`` or
    ``~/.gpunet``), the Keras cache (``~/.keras``), then a download from `origin`.

    Args:
        fname: file name (a path relative to the data directories, or an absolute path).
        origin: URL to download the file from when it is not found locally
            (``http(s)://``, ``ftp://`` or ``file://``). `None` disables downloading.
        file_hash: expected hex digest, or a sequence of accepted digests (for instance the
            official file and a known mirror). `None` skips verification.
        cache_subdir: sub-directory of the cache holding the file.
        hash_algorithm: `"sha256"`, `"md5"` or `"auto"` (chosen from the digest's length).
        cache_dir: base cache directory, overriding ``$GPUNET_HOME``.

    Returns:
        The absolute path of the verified local file.

    Raises:
        ValueError: a local or downloaded file does not match `file_hash` (it is not used).
        DatasetNotFoundError: the file is not available locally and could not be
            downloaded (for instance because the machine is offline).

    Example:

    >>> path = find_data_file(
    ...     "mnist.npz",
    ...     origin="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    ...     file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ... )  # doctest: +SKIP
    """
    if not isinstance(fname, str | os.PathLike) or not os.fspath(fname):
        raise TypeError(f"`fname` must be a non-empty file name. Received: fname={fname!r}")
    fname = os.fspath(fname)
    cache_dir = None if cache_dir is None else os.fspath(cache_dir)
    hashes = _normalize_hashes(file_hash)
    if hashes:
        for h in hashes:
            _resolve_algorithm(hash_algorithm, h)  # validates the algorithm name early

    for candidate in _candidate_paths(fname, cache_subdir, cache_dir):
        if not os.path.isfile(candidate):
            continue
        if hashes:
            ok, actual = _hash_matches(candidate, hashes, hash_algorithm)
            if not ok:
                raise ValueError(
                    f"The local file {candidate} has hash {actual}, which does not match "
                    f"{_describe_expected(hashes)}, so the file was not used. Replace or delete "
                    "it (it may be corrupted or a different version of the data)."
                )
        return os.path.abspath(candidate)

    if origin is None:
        raise DatasetNotFoundError(
            _not_found_message(fname, None, "not found", cache_subdir, cache_dir)
        )
    scheme = urllib.parse.urlparse(origin).scheme.lower()
    if scheme not in ("http", "https", "ftp", "file"):
        raise ValueError(
            f"`origin` must be an http(s)://, ftp:// or file:// URL. Received: origin={origin!r}"
        )
    target = _download_target(fname, cache_subdir, cache_dir)
    try:
        _download(origin, target, hashes, hash_algorithm)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DatasetNotFoundError(
            _not_found_message(fname, origin, str(reason), cache_subdir, cache_dir)
        ) from e
    return os.path.abspath(target)


def _archive_stem(fname: str) -> str:
    base = os.path.basename(fname)
    for suffix in _ARCHIVE_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def _extract(path: str, cache_subdir: str, cache_dir: str | None) -> str:
    if tarfile.is_tarfile(path):
        extractor = _safe_extract_tar
    elif zipfile.is_zipfile(path):
        extractor = _safe_extract_zip
    else:
        raise ValueError(f"`extract=True` needs a tar or zip archive, but {path} is neither.")
    parent = _writable_cache_subdir(cache_subdir, cache_dir)
    dest = os.path.join(parent, _archive_stem(path) + "_extracted")
    marker = os.path.join(dest, ".gpunet_extracted")
    if os.path.isfile(marker):
        with open(marker) as f:
            if f.read().strip() == os.path.abspath(path):
                return dest
    tmp_dest = tempfile.mkdtemp(prefix="." + os.path.basename(dest) + ".", dir=parent)
    try:
        extractor(path, tmp_dest)
        with open(os.path.join(tmp_dest, ".gpunet_extracted"), "w") as f:
            f.write(os.path.abspath(path) + "\n")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.replace(tmp_dest, dest)
    except BaseException:
        shutil.rmtree(tmp_dest, ignore_errors=True)
        raise
    return dest


def get_file(
    fname: str | None,
    origin: str,
    file_hash: HashSpec = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "sha256",
    cache_dir: str | os.PathLike | None = None,
    extract: bool = False,
) -> str:
    """Returns the path of a data file, downloading it if it is not available locally.

    Works like `keras.utils.get_file`, with gpunet's lookup order: ``$GPUNET_DATA_DIR``, the
    gpunet cache (``$GPUNET_HOME`` or ``~/.gpunet``), the Keras cache (``~/.keras``), then a
    download from `origin`. Downloads are verified before they are moved into place.

    Args:
        fname: name of the file. `None` uses the last component of `origin`'s path. An
            absolute path is used as the file's location.
        origin: URL of the file (``http(s)://``, ``ftp://`` or ``file://``).
        file_hash: expected hex digest of the file, or a sequence of accepted digests.
            `None` skips verification.
        cache_subdir: sub-directory of the cache in which to store the file.
        hash_algorithm: `"sha256"`, `"md5"` or `"auto"` (chosen from the digest's length).
        cache_dir: base cache directory, overriding ``$GPUNET_HOME``.
        extract: when `True`, the file is a tar or zip archive that is unpacked (safely: no
            member may land outside the destination) into
            ``<cache>/<cache_subdir>/<name>_extracted``, and that directory is returned.

    Returns:
        The path of the local file, or of the extracted directory when `extract=True`.

    Raises:
        ValueError: the file does not match `file_hash` (it is not used), or an archive
            cannot be extracted safely.
        DatasetNotFoundError: the file is not available locally and could not be downloaded.

    Example:

    >>> path = get_file(
    ...     "mnist.npz",
    ...     origin="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    ...     file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ... )  # doctest: +SKIP
    """
    if fname is None:
        if not origin:
            raise ValueError("`fname` is None, so `origin` must be given to derive a name.")
        fname = os.path.basename(urllib.parse.urlparse(origin).path)
        if not fname:
            raise ValueError(
                "`fname` is None and no file name can be derived from "
                f"origin={origin!r}. Pass `fname` explicitly."
            )
    path = find_data_file(
        fname,
        origin=origin,
        file_hash=file_hash,
        cache_subdir=cache_subdir,
        hash_algorithm=hash_algorithm,
        cache_dir=cache_dir,
    )
    if extract:
        return _extract(path, cache_subdir, None if cache_dir is None else os.fspath(cache_dir))
    return path
