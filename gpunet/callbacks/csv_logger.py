"""``CSVLogger``: stream the epoch logs to a CSV file."""

from __future__ import annotations

import collections.abc
import csv
import os
from typing import Any

import numpy as np

from gpunet.callbacks.base import Callback


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, collections.abc.Iterable):
        return f"\"[{', '.join(map(str, value))}]\""
    return value


class CSVLogger(Callback):
    """Writes one row per epoch: ``epoch`` (0-based), then every log key in sorted order.

    The columns are fixed by the first epoch's logs; if they hold no ``val_`` key, a
    ``val_<key>`` column is added for each key (validation may start later, e.g. with
    ``validation_freq``). Missing values are written as ``NA``. The file is flushed after
    every epoch. Rows use Python's ``csv`` "excel" dialect with ``separator`` as delimiter.

    Args:
        filename: the CSV file's path.
        separator: the string separating cells.
        append: append to an existing file (its header is written only if it is empty)
            instead of overwriting it.

    Example:

    >>> model.fit(x, y, epochs=5, callbacks=[CSVLogger("training.log")])
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise ValueError(f"CSVLogger: `filename` must be a non-empty path. "
                             f"Received: filename={filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError("CSVLogger: `separator` must be a 1-character string. "
                             f"Received: separator={separator!r}")
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.append_header = True
        self.csv_file = None
        self.writer = None
        self.keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        d = os.path.dirname(self.filename)
        if d:
            os.makedirs(d, exist_ok=True)
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="",
                             encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += ["val_" + k for k in self.keys]
        if self.writer is None:
            sep = self.sep

            class Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _cell(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
