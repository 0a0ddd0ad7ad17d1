"""``Sequence`` (Keras 3: ``PyDataset``): an indexable, finite source of batches for ``fit``.

A Sequence knows its number of batches (``__len__``) and returns batch ``i`` on request
(``__getitem__``), so batches can be fetched in any order, by several threads, and re-read
every epoch. ``fit`` calls ``on_epoch_end`` after every complete pass.

This module imports nothing from gpunet: the training loop recognises Sequences by their
methods (``__len__``, ``__getitem__`` and ``on_epoch_end``), so any object with those three
(for instance ``ImageDataGenerator.flow()``'s iterator) is served the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["PyDataset", "Sequence"]


class Sequence:
    """Base class for feeding batches to ``fit`` / ``evaluate`` / ``predict``.

    Subclasses implement ``__len__`` (batches per epoch) and ``__getitem__(index)`` returning
    one batch: ``(x, y)`` or ``(x, y, sample_weight)`` for ``fit``/``evaluate``, ``x`` (or a
    tuple starting with ``x``) for ``predict``. ``on_epoch_end`` may reshuffle or refresh data.

    Batches are fetched on background threads while the model trains on the previous one,
    and are always delivered in order. ``fit(shuffle=True)`` (the default) visits the batch
    indices in a new random order every epoch; ``shuffle=False`` keeps ``0, 1, 2, ...``.

    Args:
        workers: threads calling ``__getitem__`` concurrently (batches keep their order;
            ``__getitem__`` must then be thread-safe). ``0`` fetches batches on the calling
            thread, without any background thread (useful for debugging).
        use_multiprocessing: accepted for Keras compatibility; gpunet always uses threads
            (NumPy releases the GIL for array work) and warns when this is ``True``.
        max_queue_size: batches prepared ahead of the training step (the bound of the queue).

    Example:

    ```python
    class Batches(gpunet.utils.Sequence):
        def __init__(self, x, y, batch_size=32, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):
            lo = idx * self.batch_size
            return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    model.fit(Batches(x, y, workers=2), epochs=3)
    ```
    """

    # Class-level defaults, so subclasses that skip ``super().__init__()`` (Keras 2 style)
    # still work.
    _workers = 1
    _use_multiprocessing = False
    _max_queue_size = 10

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"`workers` must be a non-negative integer. Received: "
                             f"workers={workers!r}")
        if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) \
                or max_queue_size < 1:
            raise ValueError(f"`max_queue_size` must be a positive integer. Received: "
                             f"max_queue_size={max_queue_size!r}")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        """Threads fetching batches (``0``: the calling thread)."""
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        """Batches prepared ahead of the training step."""
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """Returns batch ``index`` (``0 <= index < len(self)``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement `__getitem__`.")

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        raise NotImplementedError(f"{type(self).__name__} must implement `__len__`.")

    @property
    def num_batches(self) -> int:
        """Keras 3 spelling of ``len(self)``."""
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch (Keras 3 hook; does nothing by default)."""

    def on_epoch_end(self) -> None:
        """Called after every complete pass (override to reshuffle or refresh)."""

    def __iter__(self) -> Iterator:
        """Yields the batches in order, once."""
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence
"""Keras 3 name of ``Sequence``."""
