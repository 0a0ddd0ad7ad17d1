"""What ``compile`` resolves: the loss container and the metric list, built from shapes."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import losses as losses_mod
from gpunet import metrics as metrics_mod
from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import floatx
from gpunet.losses.classes import to_loss_dtype


class LossContainer:
    """The compiled loss: ``loss_weight * loss(y, y_pred, sample_weight)`` (+ regularizers)."""

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        if isinstance(loss, (list, tuple)):
            if len(loss) != 1:
                raise ValueError(f"This model has one output, but `loss` lists {len(loss)} "
                                 "losses.")
            loss = loss[0]
        if isinstance(loss, dict):
            if len(loss) != 1:
                raise ValueError(f"This model has one output, but `loss` maps {len(loss)} "
                                 "outputs.")
            loss = next(iter(loss.values()))
        self.spec = loss
        fn = losses_mod.get(loss)
        if fn is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        self.fn = fn
        if isinstance(loss_weights, (list, tuple)):
            loss_weights = loss_weights[0]
        if isinstance(loss_weights, dict):
            loss_weights = next(iter(loss_weights.values()))
        self.weight = 1.0 if loss_weights is None else float(loss_weights)
        # the dtype the loss computes in (Keras 3's Loss converts its inputs to it)
        self.dtype = np.dtype(getattr(fn, "dtype", None) or floatx())
        self.fused = _batch_mean(fn)  # (batch-mean form, wrapped) or None

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        fn = self.fn
        if y_pred.data.dtype != self.dtype:  # float16 outputs: the loss computes in float32
            y_true, y_pred = to_loss_dtype(y_true, y_pred, getattr(fn, "dtype", None))
        fused = self.fused
        if fused is not None and sample_weight is None and (
                fused[1] is None or fn.reduction in _MEANS):  # (a reduction set later counts)
            # a built-in cross-entropy that also takes the batch mean (one node, the same
            # numbers); where a mask applies it gives per-sample values, reduced here
            values = fused[0](y_true, y_pred, **getattr(fn, "fn_kwargs", _NO_KWARGS))
            loss = values if values.ndim == 0 and values._keras_mask is None else (
                losses_mod.reduce_loss(values, None,
                                       fn.reduction if fused[1] else "sum_over_batch_size"))
        elif isinstance(fn, losses_mod.Loss):
            if (sample_weight is None and fn.reduction in ("sum_over_batch_size", "mean")
                    and isinstance(fn, losses_mod.LossFunctionWrapper)):
                values = fn.call(y_true, y_pred)
                loss = (_mean(values) if values._keras_mask is None  # one node, not sum+divide
                        else losses_mod.reduce_loss(values, None, fn.reduction))
            else:
                loss = fn(y_true, y_pred, sample_weight)
        else:
            values = fn(y_true, y_pred)
            if not isinstance(values, Tensor):
                raise TypeError(f"The loss function {getattr(fn, '__name__', fn)!r} "
                                "must return a Tensor (write it with gpunet.ops).")
            if sample_weight is None and values._keras_mask is None:
                loss = _mean(values)
            else:
                loss = losses_mod.reduce_loss(values, sample_weight)
        if loss.ndim:
            loss = ops.mean(loss)
        return loss * self.weight if self.weight != 1.0 else loss


_NO_KWARGS: dict = {}
_MEANS = ("sum_over_batch_size", "mean")


def _batch_mean(fn: Any) -> tuple | None:
    """``(form, wrapped)``: the ``batch_mean`` form of the built-in per-sample loss behind
    ``fn`` (the function itself, ``wrapped=None``, or a ``LossFunctionWrapper`` of it whose
    ``call`` is not overridden, ``wrapped=True``: used while its reduction is a mean), else
    None."""
    if isinstance(fn, losses_mod.LossFunctionWrapper):
        if type(fn).call is not losses_mod.LossFunctionWrapper.call:
            return None
        form = getattr(fn.fn, "batch_mean", None)
        return None if form is None else (form, True)
    if isinstance(fn, losses_mod.Loss):
        return None
    form = getattr(fn, "batch_mean", None)
    return None if form is None else (form, None)


def _mean(values: Tensor) -> Tensor:
    return ops.mean(values) if values.ndim else values


class MetricsContainer:
    """The compiled metrics (unweighted) and weighted metrics, built at the first batch."""

    def __init__(self, metrics: Any = None, weighted_metrics: Any = None) -> None:
        self.specs = _flat(metrics)
        self.weighted_specs = _flat(weighted_metrics)
        self.metrics: list[metrics_mod.Metric] = []
        self.weighted: list[metrics_mod.Metric] = []
        self.built = False

    def build(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        self.metrics = [metrics_mod.get(m, y_true_shape, y_pred_shape) for m in self.specs]
        self.weighted = [metrics_mod.get(m, y_true_shape, y_pred_shape)
                         for m in self.weighted_specs]
        names = set()
        for m in self.weighted:
            if m.name in {x.name for x in self.metrics}:
                m.name = "weighted_" + m.name
        for m in self.metrics + self.weighted:
            if m.name in names:
                raise ValueError(f"Two metrics share the name {m.name!r}; give one a `name`.")
            names.add(m.name)
        self.built = True

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        try:
            half = y_pred.dtype.itemsize < 4
        except AttributeError:  # a list given to CompileMetrics.update_state
            half = False
        if half:
            y_pred = _half_to_floatx(y_pred)  # Keras 3's metrics compute in float32
        for m in self.metrics:
            m.update_state(y_true, y_pred)
        for m in self.weighted:
            m.update_state(y_true, y_pred, sample_weight)

    def reset(self) -> None:
        for m in self.metrics + self.weighted:
            m.reset_state()

    @property
    def all(self) -> list:
        return self.metrics + self.weighted


def _half_to_floatx(y_pred: Any) -> Any:
    """float16 / bfloat16 predictions (a mixed-precision model's) in ``floatx()``."""
    d = y_pred.dtype
    return y_pred.astype(floatx()) if d.kind == "f" or d.name == "bfloat16" else y_pred


def _flat(spec: Any) -> list:
    if spec is None:
        return []
    if isinstance(spec, dict):
        out = []
        for v in spec.values():
            out.extend(_flat(v))
        return out
    if isinstance(spec, (list, tuple)):
        out = []
        for v in spec:
            out.extend(_flat(v) if isinstance(v, (list, tuple)) else [v])
        return out
    return [spec]
