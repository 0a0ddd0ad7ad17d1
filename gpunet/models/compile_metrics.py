"""``CompileMetrics``: the metrics given to ``compile`` seen as one ``Metric``, as Keras 3's
``model.metrics`` lists them (``update_state(y, y_pred)`` updates them all, ``result()`` is
a dict ``{name: value}``)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.metrics import Metric


def raw(a: Any) -> Any:
    """The backend array(s) of a ``Tensor`` or a list/dict of them (other values as they are)."""
    if isinstance(a, Tensor):
        return a.data
    if isinstance(a, (list, tuple)):
        return [raw(v) for v in a]
    if isinstance(a, dict):
        return {k: raw(v) for k, v in a.items()}
    return a


class CompileMetrics(Metric):
    """The compiled metrics of ``model`` (built from the shapes of the first batch).

    Args:
        model: the compiled model whose ``_metrics`` container this wraps.

    Example:

    >>> model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    >>> cm = model.metrics[1]          # after the loss tracker
    >>> cm.update_state(y, model(x))
    >>> cm.result()                    # {"mae": ...}
    """

    def __init__(self, model: Any) -> None:
        super().__init__(name="compile_metrics")
        self.model = model
        self.container = model._metrics

    def _targets(self, y: Any) -> Any:
        y = raw(y)
        if hasattr(self.container, "metric_names"):  # several outputs: a list per output
            if isinstance(y, dict):
                y = [y[k] for k in self.model.output_names]
            return y if isinstance(y, list) else [y]
        return y

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        from gpunet.models.step import _flat_outputs

        mc = self.container
        outs = [raw(o) for o in _flat_outputs(self.model, y_pred)]
        y = self._targets(y_true)
        multi = hasattr(mc, "metric_names")
        if not mc.built:
            if multi:
                mc.build([None if a is None else tuple(a.shape) for a in y],
                         [tuple(o.shape) for o in outs])
            else:
                mc.build(tuple(y.shape), tuple(outs[0].shape))
        mc.update(y, outs if multi else outs[0], raw(sample_weight))

    def result(self) -> dict:
        from gpunet.models.step import log_value

        if not self.container.built:
            return {}
        return {m.name: log_value(m.result()) for m in self.container.all}

    def reset_state(self) -> None:
        self.container.reset()

    @property
    def metrics(self) -> list:
        """The individual compiled metrics (empty until the first batch builds them)."""
        return list(self.container.all)
