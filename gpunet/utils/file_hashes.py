"""File hashes for ``get_file``: sha256/md5 (or any ``hashlib`` algorithm) of a file,
checked against one or several expected values."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

HashSpec = str | Sequence[str] | None
_CHUNK_SIZE = 1 << 16


def _normalize_hashes(file_hash: HashSpec) -> tuple[str, ...]:
    if file_hash is None:
        return ()
    if isinstance(file_hash, str):
        hashes: Sequence[Any] = (file_hash,)
    elif isinstance(file_hash, Sequence):
        hashes = file_hash
    else:
        raise TypeError(
            "`file_hash` must be a hex digest string, a sequence of them, or None. "
            f"Received: file_hash={file_hash!r} of type {type(file_hash).__name__}"
        )
    out = []
    for h in hashes:
        if not isinstance(h, str) or not h.strip():
            raise TypeError(
                f"`file_hash` entries must be non-empty hex digest strings. Received: {h!r}"
            )
        out.append(h.strip().lower())
    return tuple(out)


def _resolve_algorithm(algorithm: str, expected: str | None = None) -> str:
    algorithm = str(algorithm).lower()
    if algorithm == "auto":
        return "sha256" if expected is None or len(expected) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(
            "`hash_algorithm` must be one of 'sha256', 'md5' or 'auto'. "
            f"Received: hash_algorithm={algorithm!r}"
        )
    return algorithm


def hash_file(
    fpath: str | os.PathLike, algorithm: str = "sha256", chunk_size: int = _CHUNK_SIZE
) -> str:
    """Computes the hex digest of a file.

    Args:
        fpath: path of the file.
        algorithm: `"sha256"` or `"md5"` (`"auto"` means `"sha256"` here).
        chunk_size: bytes read at a time.

    Returns:
        The hex digest, lower case.

    Example:

    >>> hash_file("mnist.npz")  # doctest: +SKIP
    '731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1'
    """
    hasher = hashlib.new(_resolve_algorithm(algorithm))
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _hash_matches(fpath: str, hashes: tuple[str, ...], algorithm: str) -> tuple[bool, str]:
    """Returns ``(matches, actual_digest)``; the digest is of the first expected's algorithm."""
    digests: dict[str, str] = {}
    for expected in hashes:
        algo = _resolve_algorithm(algorithm, expected)
        if algo not in digests:
            digests[algo] = hash_file(fpath, algo)
        if digests[algo] == expected:
            return True, digests[algo]
    first_algo = _resolve_algorithm(algorithm, hashes[0])
    return False, digests[first_algo]


def validate_file(
    fpath: str | os.PathLike, file_hash: str | Sequence[str], algorithm: str = "auto"
) -> bool:
    """Checks a file against one expected hash or several accepted ones.

    Args:
        fpath: path of the file.
        file_hash: the expected hex digest, or a sequence of accepted digests.
        algorithm: `"sha256"`, `"md5"` or `"auto"` (chosen from each digest's length:
            64 hex characters is sha256, otherwise md5).

    Returns:
        `True` if the file's digest equals one of the expected digests.

    Example:

    >>> validate_file("mnist.npz", "731c5ac6...")  # doctest: +SKIP
    False
    """
    hashes = _normalize_hashes(file_hash)
    if not hashes:
        raise ValueError("`file_hash` must name at least one digest. Received: an empty value")
    return _hash_matches(os.fspath(fpath), hashes, algorithm)[0]


def _describe_expected(hashes: tuple[str, ...]) -> str:
    if len(hashes) == 1:
        return f"the expected hash {hashes[0]}"
    return "any of the accepted hashes " + ", ".join(hashes)


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------
