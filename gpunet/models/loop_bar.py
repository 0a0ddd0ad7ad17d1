"""The progress bar of ``evaluate`` and ``predict`` (``verbose=1`` / ``2``), as Keras 3 shows it.

Keras 3 adds a ``ProgbarLogger`` to the callbacks when ``verbose`` is not 0. Here the bar is
driven beside the ``CallbackList`` instead, so that a batch's logs (a host read on a GPU) are
only built when the bar is about to redraw (at most every ``interval`` seconds), not on every
batch; what it prints is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpunet.callbacks.progbar import ProgbarLogger


class LoopBar:
    """The bar of one ``evaluate`` / ``predict`` run.

    Args:
        verbose: 0 (silent), 1 (a bar redrawn in place) or 2 (one line at the end).
        steps: the number of batches, ``None`` when unknown (a generator).
        kind: ``"test"`` (evaluate, shows the metrics) or ``"predict"`` (no metrics).
    """

    def __init__(self, verbose: int, steps: int | None, kind: str) -> None:
        self.kind = kind
        self.logger = ProgbarLogger() if verbose else None
        if self.logger is not None:
            self.logger.set_params({"verbose": verbose, "epochs": 1, "steps": steps})
            self.logger._reset()
            self.logger._ensure_bar()

    def batch_end(self, index: int, logs: Callable[[], dict] | None = None) -> None:
        """After batch ``index`` (the last of a ``steps_per_execution`` group): redraws the
        bar when Keras's would (``verbose=1``, ``interval`` seconds since the last redraw);
        ``logs`` builds the running logs only then."""
        lg = self.logger
        if lg is None:
            return
        lg.seen = index + 1
        bar = lg._ensure_bar()
        if lg.verbose == 1 and time.time() - bar._last_update >= bar.interval:
            lg._update(index, logs() if logs is not None and self.kind == "test" else None)

    def end(self, logs: dict | None = None) -> None:
        """The final line, with ``logs`` (sorted as Keras shows them)."""
        if self.logger is not None:
            self.logger._finalize(logs if self.kind == "test" else None)
