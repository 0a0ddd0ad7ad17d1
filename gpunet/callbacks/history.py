"""``History``: records the epoch logs that ``fit`` returns."""

from __future__ import annotations

from gpunet.callbacks.base import Callback


class History(Callback):
    """Collects every epoch's logs in ``history`` (key → list of values) and ``epoch``.

    ``fit`` adds one automatically and returns it; it is also ``model.history``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self
