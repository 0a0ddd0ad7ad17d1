"""Runs a subclass's ``train_step`` / ``test_step`` / ``predict_step`` with the interface of
the built-in step objects, so ``fit`` / ``evaluate`` / ``predict`` drive either the same way."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.models.step import log_value
from gpunet.models.steps_api import pack_x_y_sample_weight


def _tensors(a: Any) -> Any:
    if a is None or isinstance(a, Tensor):
        return a
    if isinstance(a, (list, tuple)):
        return [_tensors(v) for v in a]
    if isinstance(a, dict):
        return {k: _tensors(v) for k, v in a.items()}
    return Tensor(a)


def batch_data(xb: Any, yb: Any, wb: Any) -> Any:
    """The batch as Keras hands it to the step methods: ``x``, ``(x, y)`` or
    ``(x, y, sample_weight)``, each a ``Tensor`` (lists of them for several inputs)."""
    return pack_x_y_sample_weight(_tensors(xb), _tensors(yb), _tensors(wb))


def python_logs(logs: Any, prefix: str = "") -> dict:
    """A step's returned logs as ``{name: float}`` (arrays of several values stay arrays;
    a nested dict is merged, as Keras 3 does)."""
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError("A custom `train_step` / `test_step` must return a dict of logs "
                        f"({{name: value}}); it returned {type(logs).__name__}.")
    out: dict = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(python_logs(v, prefix))
            continue
        if isinstance(v, Tensor):
            v = v.data
        if hasattr(v, "result") and callable(v.result):  # a Metric object
            v = v.result()
        out[prefix + k] = log_value(v)
    return out


class CustomStep:
    """Calls ``model.train_step`` / ``model.test_step`` per batch and keeps their logs.

    Args:
        model: a model whose class overrides some of the ``TrainerAPI`` methods.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.guard = None
        self.metrics = None
        self._logs: Any = {}

    def train(self, xb, yb, wb) -> None:
        guard = self.guard
        if guard is not None:
            guard.begin()
        self._logs = self.model.train_step(batch_data(xb, yb, wb))
        if guard is not None:
            guard.end(None)

    def test(self, xb, yb, wb) -> None:
        self._logs = self.model.test_step(batch_data(xb, yb, wb))

    def predict(self, xb) -> Any:
        return self.model.predict_step(_tensors(xb))

    def reset(self) -> None:
        self._logs = {}
        self.model.reset_metrics()

    def logs(self, prefix: str = "") -> dict:
        return python_logs(self._logs, prefix)
