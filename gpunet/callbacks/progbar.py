"""Keras 3's progress bar (``Progbar``) and the ``ProgbarLogger`` callback, printing what
Keras 3 prints: ``3/3 ━━━━━━━━━━━━━━━━━━━━ 1s 102ms/step - accuracy: 0.0938 - loss: 6.4397``."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from gpunet.callbacks.base import Callback


def _mean(v: Any) -> float:
    if getattr(v, "ndim", 0):  # a vector metric shows its mean, as Keras's bar does
        v = v.mean()
    return float(v)


def _format_time(time_per_unit: float, unit_name: str) -> str:
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Displays a progress bar, as Keras 3's ``keras.utils.Progbar``.

    Args:
        target: total number of steps expected, ``None`` if unknown.
        width: bar width in characters.
        verbose: 0 silent, 1 one line redrawn in place, 2 one line at the end.
        interval: minimum seconds between redraws.
        stateful_metrics: names of values shown as given (the others are averaged over the
            steps by the bar); give this or ``stateless_metrics``, not both.
        stateless_metrics: names of values the bar averages (the others are shown as given).
        unit_name: the unit of the step counts (``"step"``).

    Example:

    >>> bar = Progbar(100)
    >>> for i in range(100):
    ...     bar.update(i + 1, [("loss", 0.5)])
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, stateful_metrics: Any = None,
                 stateless_metrics: Any = None, unit_name: str = "step") -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be "
                             "provided.")
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stateful_metrics = None if stateless_metrics is not None else set(
            stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._values: dict[str, list] = {}
        self._values_order: list[str] = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    @property
    def _last(self) -> float:
        return self._last_update

    def _stateless(self, name: str) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current: int, values: list, finalize: bool) -> None:
        for k, v in values:
            if k not in self._values_order:
                self._values_order.append(k)
            if not self._stateless(k) or finalize:
                self._values[k] = [v, 1]
                continue
            base = max(current - self._seen_so_far, 1)
            if k not in self._values:
                self._values[k] = [_mean(v) * base, base]
            else:
                self._values[k][0] += _mean(v) * base
                self._values[k][1] += base
        self._seen_so_far = current

    def _metrics(self, positive_only: bool = False) -> str:
        info = ""
        for k in self._values_order:
            total, count = self._values[k]
            avg = _mean(total) / max(1, count)
            small = avg <= 1e-3 if positive_only else abs(avg) <= 1e-3
            info += f" - {k}: {avg:.4e}" if small else f" - {k}: {avg:.4f}"
        return info

    def _step_duration(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def update(self, current: int, values: list | None = None,
               finalize: bool | None = None) -> None:
        """Shows ``current`` steps done and the latest ``(name, value)`` pairs."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values or [], finalize)
        now = time.time()
        per = self._step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            message = "\b" * self._prev_total_width + "\r"
            special = 0
            if self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                bar = f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m "
                special += 8
                done = int(self.width * current / self.target)
                if done > 0:
                    bar += f"\x1b[32m{'━' * done}\x1b[0m"
                    special += 9
                bar += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
                special += 9
            else:
                bar = f"{current:7d}/Unknown"
            if self.target is not None and self.target > 0 and not finalize:
                eta = per * (self.target - current)
                if eta > 3600:
                    eta_text = f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
                elif eta > 60:
                    eta_text = f"{int(eta // 60)}:{int(eta % 60):02d}"
                else:
                    eta_text = f"{int(eta)}s"
                info = f" \x1b[1m{eta_text}\x1b[0m"
            else:
                info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
            special += 8
            info += _format_time(per, self.unit_name) + self._metrics()
            total_width = len(bar) + len(info) - special
            message += bar + info
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
            if finalize:
                message += "\n"
            sys.stdout.write(message)
            sys.stdout.flush()
            self._prev_total_width = total_width
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            info += _format_time(per, self.unit_name)
            sys.stdout.write(info + self._metrics(positive_only=True) + "\n")
            sys.stdout.flush()
        self._last_update = now

    def add(self, n: int, values: list | None = None) -> None:
        """Advances the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/E`` and a progress bar per epoch (verbose 1) or one line per epoch
    (verbose 2), and a bar for ``evaluate``/``predict`` called outside ``fit``, as Keras 3.

    Args:
        verbose: overrides the ``verbose`` that ``fit``/``evaluate``/``predict`` pass in
            ``params`` (Keras 3 takes it only from ``params``).
    """

    def __init__(self, verbose: int | None = None) -> None:
        super().__init__()
        self._verbose_arg = verbose
        self.verbose = 1 if verbose is None else verbose
        self.epochs = 1
        self.target = None
        self.seen = 0
        self._bar: Progbar | None = None
        self._called_in_fit = False

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1) if self._verbose_arg is None else self._verbose_arg
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self) -> None:
        self.seen = 0
        self._bar = None

    def _ensure_bar(self) -> Progbar:
        if self._bar is None:
            self._bar = Progbar(self.target, verbose=self.verbose, unit_name="step",
                                stateless_metrics=set())
        return self._bar

    def _update(self, batch: int, logs: dict | None) -> None:
        bar = self._ensure_bar()
        self.seen = batch + 1
        if self.verbose == 1:
            bar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs: dict | None) -> None:
        bar = self._ensure_bar()
        if self.target is None:
            self.target = bar.target if bar.target is not None else self.seen
            bar.target = self.target
        bar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit is silent

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._ensure_bar()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._ensure_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._reset()
        self._ensure_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finalize(logs)
