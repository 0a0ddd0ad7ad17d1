"""Splitting the training data between processes."""

from __future__ import annotations

import warnings
from typing import Any

from gpunet.distribute.comm import Communicator


def shard(*arrays: Any, rank: int | None = None, size: int | None = None,
          comm: Communicator | None = None, drop_remainder: bool = True):
    """This process's contiguous, equal-sized part of each array (same rows in each).

    Every rank must run the same number of steps (each step is a collective), so by default
    the last ``len % size`` rows are dropped, with a warning.

    Args:
        *arrays: arrays of equal length (x, y, sample weights, ...).
        rank / size: override the communicator's.
        comm: the communicator (default: the one from ``gpunet.distribute.init()``).
        drop_remainder: False keeps the extra rows on the first ranks (unequal shards: only
            safe with ``steps_per_epoch`` set to the same value everywhere).

    Returns:
        One array, or a tuple of arrays when several were given.
    """
    from gpunet.distribute.optimizer import _comm

    if not arrays:
        raise ValueError("shard() needs at least one array.")
    c = _comm(comm)
    rank = c.rank if rank is None else rank
    size = c.size if size is None else size
    if not 0 <= rank < size:
        raise ValueError(f"shard(): rank must be in [0, {size}); received rank={rank}.")
    n = len(arrays[0])
    for i, a in enumerate(arrays[1:], 1):
        if len(a) != n:
            raise ValueError(f"shard(): every array needs the same length; array 0 has {n} "
                             f"rows and array {i} has {len(a)}.")
    per, extra = divmod(n, size)
    if per == 0:
        raise ValueError(f"shard(): {n} rows cannot be split over {size} processes.")
    if drop_remainder:
        if extra and rank == 0:
            warnings.warn(f"shard(): dropping the last {extra} of {n} rows so that each of "
                          f"the {size} processes gets {per}.", stacklevel=2)
        lo, hi = rank * per, (rank + 1) * per
    else:
        lo = rank * per + min(rank, extra)
        hi = lo + per + (1 if rank < extra else 0)
    out = tuple(a[lo:hi] for a in arrays)
    return out[0] if len(out) == 1 else out
