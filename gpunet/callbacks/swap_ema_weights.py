"""``SwapEMAWeights``: evaluate and checkpoint with the optimizer's moving-average weights."""

from __future__ import annotations

from gpunet.callbacks.base import Callback


class SwapEMAWeights(Callback):
    """Swaps the model's weights with the optimizer's exponential moving averages around
    evaluation (and, with ``swap_on_epoch``, around the end of each epoch, so that callbacks
    after it such as ``ModelCheckpoint`` save the averaged weights), then swaps them back.

    Needs an optimizer built with ``use_ema=True``. Put it before ``ModelCheckpoint`` in the
    callback list.

    Args:
        swap_on_epoch: also swap at the end of every epoch (and back at the next epoch's
            start).

    Example:

    >>> model.compile(optimizer=SGD(use_ema=True), loss="mse")
    >>> model.fit(x, y, validation_data=(xv, yv),
    ...           callbacks=[SwapEMAWeights(swap_on_epoch=True), ModelCheckpoint("best.h5")])
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_in_model = False

    def _check(self) -> None:
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not getattr(opt, "use_ema", False):
            raise ValueError("SwapEMAWeights requires an optimizer with `use_ema=True`; "
                             f"received {type(opt).__name__ if opt is not None else None}.")

    def _swap(self) -> None:
        opt = self.model.optimizer
        if not opt._groups:
            return
        for group, slots in zip(opt._groups, opt._slots):
            avg = slots["average"]
            tmp = group.data.copy()
            group.data[...] = avg
            avg[...] = tmp
        self._ema_in_model = not self._ema_in_model

    def on_train_begin(self, logs=None):
        self._check()
        self._ema_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_in_model:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_in_model:
            self._swap()
            if epoch == self.params.get("epochs", 0) - 1:
                # fit ends by writing the averages into the weights: make the averages the
                # EMA values again (they now hold the trained weights), as Keras does
                for group, slots in zip(self.model.optimizer._groups,
                                        self.model.optimizer._slots):
                    slots["average"][...] = group.data

    def on_test_begin(self, logs=None):
        self._check()
        if not self._ema_in_model:
            self._swap()

    def on_test_end(self, logs=None):
        if self._ema_in_model:
            self._swap()

    def on_predict_begin(self, logs=None):
        self._check()
        if not self._ema_in_model:
            self._swap()

    def on_predict_end(self, logs=None):
        if self._ema_in_model:
            self._swap()
