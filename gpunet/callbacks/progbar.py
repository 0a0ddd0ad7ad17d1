"""The Keras-style progress bar and the ``ProgbarLogger`` callback."""

from __future__ import annotations

import sys
import time

from gpunet.callbacks.base import Callback


def _fmt_value(v) -> str:
    if getattr(v, "ndim", 0):  # a vector metric shows its mean, as Keras's bar does
        v = v.mean()
    v = float(v)
    return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 else f"{v:.4e}"


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


class Progbar:
    """Displays ``step/target [=====>....] - ETA: 2s - loss: 0.1234``.

    Args:
        target: total number of steps (``None`` if unknown).
        width: bar width in characters.
        verbose: 1 redraws one line in place; 2 prints only at the end.
        interval: minimum seconds between redraws.
    """

    def __init__(self, target: int | None, width: int = 30, verbose: int = 1,
                 interval: float = 0.05, stream=None) -> None:
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.stream = stream or sys.stdout
        self._start = time.time()
        self._last = 0.0
        self._prev_len = 0

    def update(self, current: int, values: list[tuple[str, float]] | None = None,
               finalize: bool | None = None) -> None:
        now = time.time()
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 1 and not finalize and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._start
        per_step = elapsed / max(current, 1)
        vals = "".join(f" - {k}: {_fmt_value(v)}" for k, v in (values or []))
        if self.verbose == 1:
            if self.target is not None:
                digits = len(str(self.target))
                bar = f"{current:{digits}d}/{self.target} ["
                done = int(self.width * current / self.target)
                bar += "=" * max(done - 1, 0) + (">" if current < self.target else "=") * (
                    1 if done > 0 else 0) + "." * (self.width - max(done, 0)) + "]"
            else:
                bar = f"{current}/Unknown"
            if finalize:
                info = f" - {_fmt_time(elapsed)} {_fmt_time(per_step)}/step"
            else:
                eta = per_step * ((self.target or current) - current)
                info = f" - ETA: {_fmt_time(eta)}"
            line = bar + info + vals
            pad = max(self._prev_len - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._prev_len = len(line)
            self.stream.flush()
        elif self.verbose == 2 and finalize:
            digits = len(str(self.target)) if self.target else 1
            self.stream.write(f"{current:{digits}d}/{self.target} - {_fmt_time(elapsed)} - "
                              f"{_fmt_time(per_step)}/step{vals}\n")
            self.stream.flush()


class ProgbarLogger(Callback):
    """Prints ``Epoch i/E`` and a progress bar per epoch (verbose 1) or one line (verbose 2)."""

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self._bar = None
        self._batch_logs = None

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        self._bar = Progbar(self.params.get("steps"), verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1 and self._bar is not None:
            now = time.time()
            if now - self._bar._last >= self._bar.interval:
                self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            steps = self.params.get("steps") or 0
            self._bar.update(steps, list((logs or {}).items()), finalize=True)
