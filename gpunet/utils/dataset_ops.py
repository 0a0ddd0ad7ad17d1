"""What Keras code does with a dataset besides ``fit``: ``take``, ``skip``, ``cardinality``,
iteration, and ``.numpy()`` on the batches.

Keras tutorials write ``for inputs, targets in ds.take(1): print(inputs.numpy().shape)``. The
datasets of ``gpunet.utils`` (``timeseries_dataset_from_array``, ``*_dataset_from_directory``
and their ``.map``) hold their batches on the host, as ``tf.data`` does; a batch is a
``HostArray``: a NumPy array (so ``fit``, ``predict`` and NumPy take it as it is) with
``.numpy()``, which returns the same memory as a plain ``np.ndarray`` (no copy, never a device
transfer). ``fit`` copies a batch to the device once, as it does for any host batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from gpunet.utils.sequence import Sequence

__all__ = ["DatasetMethods", "HostArray", "SkipDataset", "TakeDataset", "host_batch"]


class HostArray(np.ndarray):
    """A host NumPy array with ``.numpy()``, as the batches of a Keras dataset have.

    Slicing and indexing keep the type (``x[0][:, 1].numpy()`` works); ``np.asarray`` gives
    the plain array.

    Example:

    >>> x = host_batch(np.arange(6).reshape(2, 3))
    >>> x[0].numpy()
    array([0, 1, 2])
    """

    def numpy(self) -> np.ndarray:
        """The values as a plain ``np.ndarray`` (a view of the same memory, no copy)."""
        return self.view(np.ndarray)


def host_batch(batch: Any) -> Any:
    """``batch`` with every NumPy array in it (tuples, lists, dicts) viewed as ``HostArray``."""
    if isinstance(batch, np.ndarray):
        return batch if isinstance(batch, HostArray) else batch.view(HostArray)
    if isinstance(batch, tuple):
        return tuple(host_batch(b) for b in batch)
    if isinstance(batch, list):
        return [host_batch(b) for b in batch]
    if isinstance(batch, dict):
        return {k: host_batch(v) for k, v in batch.items()}
    return batch


def _count(name: str, count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise TypeError(f"`{name}` expects an integer count of batches. Received: "
                        f"count={count!r} of type {type(count).__name__}")
    return int(count)


class DatasetMethods:
    """``take``/``skip``/``cardinality``/iteration for a ``Sequence`` of batches."""

    def __iter__(self) -> Iterator:
        """Yields the batches of one pass, in order."""
        for i in range(len(self)):
            yield self[i]

    def take(self, count: int) -> TakeDataset:
        """A dataset of the first ``count`` batches (all of them when ``count`` is -1 or more
        than there are), as ``tf.data.Dataset.take``."""
        return TakeDataset(self, _count("take", count))

    def skip(self, count: int) -> SkipDataset:
        """A dataset without the first ``count`` batches (``-1``: without any), as
        ``tf.data.Dataset.skip``."""
        return SkipDataset(self, _count("skip", count))

    def cardinality(self) -> int:
        """The number of batches (``tf.data.Dataset.cardinality``; here a Python int)."""
        return len(self)

    def as_numpy_iterator(self) -> Iterator:
        """Yields the batches of one pass with plain ``np.ndarray`` values."""
        for batch in self:
            yield _plain(batch)


def _plain(batch: Any) -> Any:
    if isinstance(batch, HostArray):
        return batch.numpy()
    if isinstance(batch, (tuple, list)):
        return type(batch)(_plain(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _plain(v) for k, v in batch.items()}
    return batch


class _Window(DatasetMethods, Sequence):
    """Batches ``[start, stop)`` of ``parent``; its epoch hooks pass through."""

    def __init__(self, parent: Sequence, start: int, stop: int) -> None:
        super().__init__()
        self.parent, self._start, self._stop = parent, start, stop
        self.class_names = getattr(parent, "class_names", None)

    def __len__(self) -> int:
        return max(0, min(self._stop, len(self.parent)) - self._start)

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"Batch index {index} is out of range for a dataset of {n} "
                             "batches.")
        return host_batch(self.parent[self._start + index])

    def on_epoch_begin(self) -> None:
        self.parent.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.parent.on_epoch_end()

    def map(self, fn: Any) -> Any:
        from gpunet.utils.dataset_utils import MappedDataset

        return MappedDataset(self, fn)


class TakeDataset(_Window):
    """The first ``count`` batches of ``parent`` (``Dataset.take``)."""

    def __init__(self, parent: Sequence, count: int) -> None:
        n = len(parent)
        super().__init__(parent, 0, n if count < 0 else min(count, n))


class SkipDataset(_Window):
    """``parent`` without its first ``count`` batches (``Dataset.skip``)."""

    def __init__(self, parent: Sequence, count: int) -> None:
        n = len(parent)
        super().__init__(parent, n if count < 0 else min(count, n), n)

    def __len__(self) -> int:
        return max(0, len(self.parent) - self._start)
