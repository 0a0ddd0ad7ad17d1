"""One training / test step: forward, loss, backward, update, metrics, and the logs.

``_Step`` is the single-input, single-output hot path (a few attribute reads per batch);
``MultiStep`` runs models with several inputs or outputs, with per-output losses and metrics.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.backend import to_numpy
from gpunet.metrics import Mean


class _Step:
    """Holds what one training step needs, so the per-batch path is a few attribute reads."""

    def __init__(self, model) -> None:
        self.model = model
        self.loss = model._loss
        self.metrics = model._metrics
        self.tracker = Mean("loss")
        # set by fit / train_on_batch: undoes a step whose loss or new weights are not finite
        # (a device flag, no host read per step on a GPU)
        self.guard = None
        self.scale = getattr(model.optimizer, "loss_scale_factor", None)

    def train(self, xb, yb, wb) -> None:
        """One forward, backward and update (undone by ``guard`` when not finite)."""
        model = self.model
        groups = model._groups
        guard = self.guard
        if guard is not None:
            guard.begin()
        for g in groups:
            g.begin_step()
        for layer in model.layers:
            if layer._activity_losses:
                layer._activity_losses = []
        out = model(Tensor(xb), training=True)
        loss = self.loss(yb, out, wb)
        reg = model.losses
        total = loss
        for r in reg:
            total = total + r
        # the optimizer divides the gradients by the same (possibly dynamic) factor
        scaled = model.optimizer.scale_loss(total)
        if scaled is total:
            total.backward()
        else:
            _scaled_backward(scaled)
        for g in groups:
            g.end_step()
        if groups:  # a model without trainable weights has nothing to update
            _update(model.optimizer, guard, total)
        if guard is not None:
            guard.end()
        n = xb.shape[0]
        self.tracker.update_total(total.data * n, n)
        if self.metrics.specs or self.metrics.weighted_specs:
            if not self.metrics.built:
                self.metrics.build(tuple(yb.shape), tuple(out.shape))
            self.metrics.update(yb, out.data, wb)

    def test(self, xb, yb, wb) -> None:
        model = self.model
        with no_grad():
            out = model(Tensor(xb), training=False)
            loss = self.loss(yb, out, wb)
            for r in model.losses:
                loss = loss + r
        n = xb.shape[0]
        self.tracker.update_total(loss.data * n, n)
        if not self.metrics.built:
            self.metrics.build(tuple(yb.shape), tuple(out.shape))
        self.metrics.update(yb, out.data, wb)

    def reset(self) -> None:
        self.tracker.reset_state()
        self.metrics.reset()

    def logs(self, prefix: str = "") -> dict:
        out = {prefix + "loss": float(self.tracker.result())}
        for m in self.metrics.all:
            out[prefix + m.name] = log_value(m.result())
        return out


def _scaled_backward(scaled) -> None:
    """``scaled.backward()`` of a scaled loss: its float16 gradients may overflow (inf, then
    NaN from inf - inf), which loss scaling expects (the step is skipped and the scale
    lowered), so NumPy's overflow / invalid-value warnings are not shown."""
    b = scaled.backend
    if not b.is_host:
        scaled.backward()
        return
    import warnings

    with b.ignore_overflow(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        scaled.backward()


def _update(optimizer, guard, total) -> None:
    """The optimizer update, unless the guard finds the loss or gradients not finite (then
    the step still counts in ``iterations``, as every attempted step does)."""
    if guard is None or guard.before_update(total.data):
        optimizer.step()
    else:
        optimizer.iterations += 1


def log_value(value: Any) -> Any:
    """A metric result as a log entry: a Python float for a scalar, a host NumPy array for a
    vector result (``F1Score(average=None)``, ``Precision(thresholds=[...])``), as in Keras."""
    import numpy as np

    arr = to_numpy(value)
    return float(arr) if arr.ndim == 0 else np.array(arr)


def _flat_outputs(model, out) -> list:
    if isinstance(out, dict):
        return [out[k] for k in model.output_names]
    if isinstance(out, (list, tuple)):
        return list(out)
    return [out]


class MultiStep(_Step):
    """A step of a model with several inputs or outputs: batches are lists of arrays."""

    def __init__(self, model) -> None:
        super().__init__(model)
        lc = self.loss
        self.out_trackers = [(i, Mean(f"{lc.names[i]}_loss")) for i in lc.active] if len(
            lc.names) > 1 else []

    def _forward(self, xb, training: bool) -> list:
        return _flat_outputs(self.model, self.model([Tensor(x) for x in xb], training=training))

    def _track(self, total, n: int) -> None:
        self.tracker.update_total(total.data * n, n)
        for i, tr in self.out_trackers:
            tr.update_total(self.loss.values[i].data * n, n)

    def _metrics(self, yb, outs, wb) -> None:
        if not (self.metrics.specs or self.metrics.weighted_specs):
            return
        if not self.metrics.built:
            self.metrics.build([None if y is None else tuple(y.shape) for y in yb],
                               [tuple(o.shape) for o in outs])
        self.metrics.update(yb, [o.data for o in outs], wb)

    def train(self, xb, yb, wb) -> None:
        model = self.model
        guard = self.guard
        if guard is not None:
            guard.begin()
        for g in model._groups:
            g.begin_step()
        for layer in model.layers:
            if layer._activity_losses:
                layer._activity_losses = []
        outs = self._forward(xb, True)
        total = self.loss(yb, outs, wb)
        for r in model.losses:
            total = total + r
        scaled = model.optimizer.scale_loss(total)
        if scaled is total:
            total.backward()
        else:
            _scaled_backward(scaled)
        for g in model._groups:
            g.end_step()
        if model._groups:
            _update(model.optimizer, guard, total)
        if guard is not None:
            guard.end()
        self._track(total, xb[0].shape[0])
        self._metrics(yb, outs, wb)

    def test(self, xb, yb, wb) -> None:
        with no_grad():
            outs = self._forward(xb, False)
            total = self.loss(yb, outs, wb)
            for r in self.model.losses:
                total = total + r
        self._track(total, xb[0].shape[0])
        self._metrics(yb, outs, wb)

    def reset(self) -> None:
        super().reset()
        for _, tr in self.out_trackers:
            tr.reset_state()

    def logs(self, prefix: str = "") -> dict:
        out = {prefix + "loss": float(self.tracker.result())}
        for _, tr in self.out_trackers:
            out[prefix + tr.name] = float(tr.result())
        for m in self.metrics.all:
            out[prefix + m.name] = log_value(m.result())
        return out
