"""Callbacks for data-parallel ``fit``: start from the same weights, report global metrics."""

from __future__ import annotations

from gpunet.callbacks.base import Callback


class BroadcastGlobalVariablesCallback(Callback):
    """At the start of training, copies ``root_rank``'s weights and optimizer state to every
    process, so that randomly initialised or separately loaded replicas start identical.

    Args:
        root_rank: the rank whose values are kept.
        comm: the communicator (default: the one from ``gpunet.distribute.init()``).
    """

    def __init__(self, root_rank: int = 0, comm=None) -> None:
        super().__init__()
        self.root_rank, self.comm = root_rank, comm

    def on_train_begin(self, logs=None):
        from gpunet.distribute.optimizer import broadcast_model

        broadcast_model(self.model, self.root_rank, self.comm)


class MetricAverageCallback(Callback):
    """Replaces each epoch's logs (loss, metrics, ``val_*``) by their average over processes,
    so that callbacks after it (EarlyStopping, ModelCheckpoint, CSVLogger) see the same
    numbers everywhere. Put it before those callbacks in the list.

    Args:
        comm: the communicator (default: the one from ``gpunet.distribute.init()``).
    """

    def __init__(self, comm=None) -> None:
        super().__init__()
        self.comm = comm

    def on_epoch_end(self, epoch, logs=None):
        from gpunet.distribute.optimizer import _comm

        c = _comm(self.comm)
        if logs is None or c.size == 1:
            return
        for key in sorted(logs):  # the same order on every rank
            value = logs[key]
            if getattr(value, "ndim", 0):
                import numpy as np

                buf = np.ascontiguousarray(value, dtype=np.float64)
                logs[key] = c.allreduce_(buf, average=True)
            elif isinstance(value, (int, float)):
                logs[key] = c.allreduce_scalar(value, average=True)
