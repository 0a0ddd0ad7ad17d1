"""The overridable training API of ``Model`` (Keras 3's ``Trainer`` methods, torch flavour):
``train_step``, ``test_step``, ``predict_step``, ``compute_loss``, ``compute_metrics``,
``metrics``, ``reset_metrics``, ``get_metrics_result`` and ``zero_grad``.

``fit`` / ``evaluate`` / ``predict`` call these methods whenever a subclass overrides one of
them; otherwise they run gpunet's fused step (same numbers, fewer Python calls per batch).
Inside a custom step, ``with gpunet.no_grad():`` plays the role of ``torch.no_grad()``: the
optimizer update itself never records a graph, so it is optional around
``optimizer.apply``.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.metrics import Mean, Metric


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``; missing parts are None (Keras's
    ``keras.utils.unpack_x_y_sample_weight``).

    Args:
        data: the batch.

    Returns:
        The tuple ``(x, y, sample_weight)``.

    Example:

    >>> x, y, sw = unpack_x_y_sample_weight((features, labels))
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`; received a tuple of {len(data)} elements.")


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """The batch as ``fit`` hands it to ``train_step``: ``x`` alone (no tuple) when there is
    no ``y``, else ``(x, y)`` or ``(x, y, sample_weight)``, as Keras 3 does."""
    if y is None:
        return x if not isinstance(x, (tuple, list)) else (x,)
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


def _raw(a: Any) -> Any:
    from gpunet.models.compile_metrics import raw

    return raw(a)


def _batch_size(x: Any) -> int:
    while isinstance(x, (list, tuple, dict)):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return int(x.shape[0])


class TrainerAPI:
    """Keras 3's overridable ``Model`` training methods (a mixin of ``Model``).

    Example (Keras's "Customizing what happens in ``fit()``" guide, torch flavour):

    >>> class CustomModel(gpunet.Model):
    ...     def train_step(self, data):
    ...         x, y = data
    ...         y_pred = self(x, training=True)
    ...         self.zero_grad()
    ...         loss = self.compute_loss(y=y, y_pred=y_pred)
    ...         loss.backward()
    ...         variables = self.trainable_weights
    ...         self.optimizer.apply([v.value.grad for v in variables], variables)
    ...         for metric in self.metrics:
    ...             if metric.name == "loss":
    ...                 metric.update_state(loss)
    ...             else:
    ...                 metric.update_state(y, y_pred)
    ...         return {m.name: m.result() for m in self.metrics}
    """

    # -- metrics ------------------------------------------------------------------------------
    @property
    def _loss_tracker_metric(self) -> Mean:
        tracker = self.__dict__.get("_loss_tracker")
        if tracker is None:
            tracker = Mean(name="loss")
            object.__setattr__(self, "_loss_tracker", tracker)
        return tracker

    @property
    def _compile_metrics_metric(self) -> Any:
        mc = getattr(self, "_metrics", None)
        if mc is None or not (mc.specs or mc.weighted_specs):
            return None
        cm = self.__dict__.get("_compile_metrics")
        if cm is None or cm.container is not mc:
            from gpunet.models.compile_metrics import CompileMetrics

            cm = CompileMetrics(self)
            object.__setattr__(self, "_compile_metrics", cm)
        return cm

    def _output_loss_trackers(self) -> list:
        """``(output index, Mean("<output>_loss"))`` of a model with several outputs and
        losses (Keras 3's ``CompileLoss.metrics``), made once per ``compile``."""
        lc = getattr(self, "_loss", None)
        if lc is None or len(getattr(lc, "names", ())) < 2:
            return []
        cached = self.__dict__.get("_output_loss_metrics")
        if cached is None or cached[0] is not lc:
            cached = (lc, [(i, Mean(name=f"{lc.names[i]}_loss")) for i in lc.active])
            object.__setattr__(self, "_output_loss_metrics", cached)
        return cached[1]

    @property
    def metrics(self) -> list:
        """The model's metrics, Keras 3 order: the loss tracker (once compiled), the compiled
        metrics as one ``CompileMetrics`` (whose ``result()`` is a dict), then ``Metric``
        objects assigned as attributes of the model."""
        out: list = []
        if getattr(self, "compiled", False):
            out.append(self._loss_tracker_metric)
            cm = self._compile_metrics_metric
            if cm is not None:
                out.append(cm)
            out.extend(tr for _, tr in self._output_loss_trackers())
        seen = {id(m) for m in out}
        for value in _attribute_metrics(self):
            if id(value) not in seen:
                seen.add(id(value))
                out.append(value)
        return out

    def reset_metrics(self) -> None:
        """Resets the state of every metric in ``self.metrics``."""
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        """``{metric.name: metric.result()}`` over ``self.metrics`` (a dict result is merged)."""
        out: dict = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    # -- loss ---------------------------------------------------------------------------------
    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> Tensor:
        """The total loss of a batch: the compiled loss plus ``self.losses``.

        Args:
            x: the inputs (unused by the default implementation).
            y: the targets.
            y_pred: the model's predictions (``self(x)``).
            sample_weight: per-sample weights, or None.
            training: whether the model is training (unused by default).

        Returns:
            The scalar loss ``Tensor``.
        """
        del x, training
        total = None
        lc = getattr(self, "_loss", None)
        if lc is not None:
            if hasattr(lc, "names"):  # several outputs
                from gpunet.models.step import _flat_outputs

                yt = _raw(y)
                yt = [yt[k] for k in self.output_names] if isinstance(yt, dict) else yt
                outs = _flat_outputs(self, y_pred)
                total = lc(yt if isinstance(yt, list) else [yt], outs, _raw(sample_weight))
                n = _batch_size(outs)
                for i, tracker in self._output_loss_trackers():
                    tracker.update_state(lc.values[i].data, sample_weight=n)
            else:
                total = lc(_raw(y), y_pred, _raw(sample_weight))
        for r in self.losses:
            total = r if total is None else total + r
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Updates the compiled metrics with a batch and returns ``get_metrics_result()``.

        Args:
            x: the inputs (unused by the default implementation).
            y: the targets.
            y_pred: the predictions.
            sample_weight: per-sample weights, or None.

        Returns:
            A dict ``{name: value}`` of every metric in ``self.metrics``.
        """
        del x
        cm = self._compile_metrics_metric
        if cm is not None and y is not None:
            cm.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # -- gradients ----------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Sets the gradient of every trainable weight to zero before a ``backward()``."""
        for v in self.trainable_weights:
            if v.grad is not None:
                v.grad[...] = 0
            v._grad_fresh = True

    # -- the steps ----------------------------------------------------------------------------
    def train_step(self, data: Any) -> dict:
        """One training step on ``data`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``).

        Returns:
            The logs: ``{name: value}`` of ``self.metrics``.
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=True)
        self._loss_tracker_metric.update_state(loss.data, sample_weight=_batch_size(x))
        variables = self.trainable_weights
        if variables:
            self.optimizer.scale_loss(loss).backward()
            self.optimizer.apply([v.grad for v in variables], variables)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data: Any) -> dict:
        """One evaluation step on ``data``; returns the logs of ``self.metrics``."""
        from gpunet.autograd.engine import no_grad

        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=False)
        self._loss_tracker_metric.update_state(loss.data, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for one batch (``x`` or a tuple whose first element is x)."""
        from gpunet.autograd.engine import no_grad

        x, _, _ = unpack_x_y_sample_weight(data)
        with no_grad():
            return self(x, training=False)


def _attribute_metrics(model: Any) -> list:
    """``Metric`` objects the user assigned as attributes (directly or in lists/dicts)."""
    tracked = getattr(model, "_tracked_metrics", None)
    if tracked is not None:
        return list(tracked)
    out = []
    for value in vars(model).values():
        if isinstance(value, Metric):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, Metric))
        elif isinstance(value, dict):
            out.extend(v for v in value.values() if isinstance(v, Metric))
    return out


def overrides(model: Any, *names: str) -> bool:
    """Whether ``type(model)`` replaces any of the ``TrainerAPI`` methods ``names``."""
    cls = type(model)
    return any(getattr(cls, n, None) is not TrainerAPI.__dict__[n] for n in names)
