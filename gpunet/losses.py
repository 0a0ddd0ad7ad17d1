"""Keras losses: per-sample functions and ``Loss`` classes with reduction and sample weights.

Every built-in loss aligns ranks (``[N]`` labels against ``[N, 1]`` predictions, Keras's
``squeeze_or_expand_to_same_rank``), reduces the last axis to a per-sample value, multiplies
sample weights in, then reduces with ``"sum_over_batch_size"`` (sum / number of elements,
not / sum of weights), ``"sum"`` or ``"none"``. Entries masked out (``ignore_class`` of the
sparse cross-entropy, or a Keras mask carried by ``y_pred``) leave the mean: it is taken over
the valid entries only, as Keras 3 does.

When ``y_pred`` comes straight out of a softmax or sigmoid and ``from_logits=False``, the
cross-entropies use the remembered logits (stable and fused, as TensorFlow's Keras does); the
value differs from clip-then-log only where a probability is below ``1e-7``.

Example:

>>> from gpunet import losses
>>> losses.mean_squared_error(np.array([[0., 1.]]), np.array([[1., 1.]]))   # per sample: [0.5]
>>> losses.Huber(delta=0.5, reduction="sum")(y_true, y_pred, sample_weight=[1., 0.])
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, epsilon, floatx
from gpunet.ops._utils import as_tensor
from gpunet.registry import lookup, register, snake_case

_KIND = "loss"
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight", None)
_LOG2 = math.log(2.0)


# -- argument checks and shape helpers --------------------------------------------------------
def _check_args(owner: str, kw: dict) -> None:
    """Refuses bad hyper-parameters, naming the argument (called at construction and per call)."""
    s = kw.get("label_smoothing")
    if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float))
                          or not math.isfinite(s) or not 0.0 <= s <= 1.0):
        raise ValueError(f"{owner}: argument `label_smoothing` must be a number in [0, 1]. "
                         f"Received: label_smoothing={s!r}")
    if "delta" in kw:
        d = kw["delta"]
        if (isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d)
                or d <= 0):
            raise ValueError(f"{owner}: argument `delta` must be a positive finite number. "
                             f"Received: delta={d!r}")
    if "from_logits" in kw and not isinstance(kw["from_logits"], bool):
        raise TypeError(f"{owner}: argument `from_logits` must be True or False. "
                        f"Received: from_logits={kw['from_logits']!r}")
    if "axis" in kw and (isinstance(kw["axis"], bool) or not isinstance(kw["axis"], int)):
        raise TypeError(f"{owner}: argument `axis` must be an int. Received: axis={kw['axis']!r}")
    ic = kw.get("ignore_class")
    if ic is not None and (isinstance(ic, bool) or not isinstance(ic, int)):
        raise TypeError(f"{owner}: argument `ignore_class` must be an int or None. "
                        f"Received: ignore_class={ic!r}")


def _pred(y_pred: Any) -> Tensor:
    p = as_tensor(y_pred)
    if p.dtype.kind != "f":
        p = Tensor(p.data.astype(floatx()))
    return p


def _truth(y_true: Any, p: Tensor) -> Tensor:
    t = as_tensor(y_true, p.data)
    if t.dtype != p.dtype:
        t = ops.cast(t, p.dtype) if t.requires_grad else Tensor(t.data.astype(p.dtype))
    return t


def align(y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: ``[N]`` vs ``[N, 1]`` → both ``[N, 1]``."""
    rt, rp = y_true.ndim, y_pred.ndim
    if rt == rp + 1 and y_true.shape[-1] == 1:
        if rp == 1:
            y_pred = _keep_logits(ops.expand_dims(y_pred, -1), y_pred)
        else:
            y_true = ops.squeeze(y_true, -1)
    elif rp == rt + 1 and y_pred.shape[-1] == 1:
        if rt == 1:
            y_true = ops.expand_dims(y_true, -1)
        else:
            y_pred = _keep_logits(ops.squeeze(y_pred, -1), y_pred)
    return y_true, y_pred


def _keep_logits(new: Tensor, old: Tensor) -> Tensor:
    """Carries the fused-logits link (and mask) of ``old`` through a reshape."""
    if old._logits is not None and old._logits.shape == old.shape:
        new._logits = ops.reshape(old._logits, new.shape)
    new._keras_mask = old._keras_mask
    return new


def _prep(y_true: Any, y_pred: Any, name: str) -> tuple[Tensor, Tensor]:
    p = _pred(y_pred)
    t, p = align(_truth(y_true, p), p)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(
            f"Loss '{name}': y_true and y_pred must have the same shape (after aligning "
            f"[N] with [N, 1]). Received: y_true.shape={tuple(t.shape)}, "
            f"y_pred.shape={tuple(p.shape)}.{_hint(name, tuple(t.shape), tuple(p.shape))}")
    return t, p


def _hint(name: str, ts: tuple, ps: tuple) -> str:
    if ps and ps[-1] > 1 and (len(ts) == len(ps) - 1 or (len(ts) == len(ps) and ts[-1] == 1)):
        return (" The targets look like integer class labels for a "
                f"{ps[-1]}-way output: use 'sparse_categorical_crossentropy' (or one-hot the "
                "targets with gpunet.utils.to_categorical).")
    if ps and ps[-1] == 1 and ts and ts[-1] > 1:
        return (f" The targets look one-hot encoded ({ts[-1]} classes) but the model gives one "
                f"value per sample: end the model with Dense({ts[-1]}, activation='softmax') "
                "and use 'categorical_crossentropy'.")
    return ""


def _finish(loss: Tensor, y_pred: Tensor, mask: Any = None) -> Tensor:
    """Attaches the mask of valid entries (``mask`` and/or ``y_pred``'s Keras mask)."""
    pm = y_pred._keras_mask
    if pm is not None:
        pm = pm.data if isinstance(pm, Tensor) else pm
        if tuple(pm.shape) == tuple(loss.shape):
            mask = pm if mask is None else (mask & pm.astype(bool))
    loss._keras_mask = mask
    return loss


def _last(x: Tensor, axis: int) -> Tensor:
    """Moves ``axis`` to the end (the fused ops reduce the last axis)."""
    a = axis % x.ndim
    if a == x.ndim - 1:
        return x
    perm = [i for i in range(x.ndim) if i != a] + [a]
    return ops.transpose(x, perm)


def _fused_logits(y_pred: Tensor, from_logits: bool) -> Tensor | None:
    if from_logits:
        return y_pred
    lg = y_pred._logits
    return lg if lg is not None and lg.shape == y_pred.shape else None


# -- per-sample loss functions ----------------------------------------------------------------
@register(_KIND)
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """``-sum(y_true * log(y_pred))`` over ``axis``, per sample.

    Args:
        y_true: one-hot (or probability) targets, shape ``[N, K]``.
        y_pred: probabilities (re-normalised, clipped to ``[eps, 1 - eps]``), or logits when
            ``from_logits=True``; shape ``[N, K]``.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y * (1 - s) + s / K``.
        axis: the class axis.

    Returns:
        Per-sample losses, shape ``y_pred.shape`` without ``axis``.
    """
    _check_args("categorical_crossentropy", {"from_logits": from_logits, "axis": axis,
                                             "label_smoothing": label_smoothing})
    p = _pred(y_pred)
    t = _truth(y_true, p)
    if t.ndim == p.ndim - 1 or (t.ndim == p.ndim and t.shape[-1] == 1 and p.shape[-1] > 1):
        raise ValueError(
            "Loss 'categorical_crossentropy' expects one-hot targets of shape "
            f"{tuple(p.shape)}, but received integer-like targets of shape {tuple(t.shape)}. "
            "Use 'sparse_categorical_crossentropy' for integer labels (or one-hot them with "
            "gpunet.utils.to_categorical).")
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(
            "Loss 'categorical_crossentropy': y_true and y_pred must have the same shape. "
            f"Received: y_true.shape={tuple(t.shape)}, y_pred.shape={tuple(p.shape)}."
            f"{_hint('categorical_crossentropy', tuple(t.shape), tuple(p.shape))}")
    k = p.shape[axis]
    if k == 1:
        warnings.warn("Loss 'categorical_crossentropy' got y_pred with one class (shape "
                      f"{tuple(p.shape)}); use 'binary_crossentropy' for two classes.",
                      stacklevel=2)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / k
    logits = _fused_logits(p, from_logits)
    if logits is not None:
        if axis % p.ndim != p.ndim - 1:
            logits, t = _last(logits, axis), _last(t, axis)
        return _finish(ops.softmax_cross_entropy(logits, t.data), p)
    eps = epsilon()
    q = ops.clip(p / ops.sum(p, axis=axis, keepdims=True), eps, 1.0 - eps)
    return _finish(-ops.sum(ops.log(q) * t, axis=axis), p)


@register(_KIND)
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Tensor:
    """Cross-entropy against integer labels, per sample.

    Args:
        y_true: integer (or integral float) labels, shape ``[N]`` or ``[N, 1]``.
        y_pred: probabilities or, with ``from_logits=True``, logits; shape ``[N, K]``.
        from_logits: whether ``y_pred`` holds logits.
        ignore_class: a label value whose entries get loss 0 and are masked out of the mean
            (e.g. a padding or "void" class).
        axis: the class axis.

    Returns:
        Per-sample losses of shape ``[N]`` (carrying the mask of valid entries).
    """
    _check_args("sparse_categorical_crossentropy", {"from_logits": from_logits, "axis": axis,
                                                    "ignore_class": ignore_class})
    p = _pred(y_pred)
    if axis % p.ndim != p.ndim - 1:
        p = _last(p, axis)
    b = backend_of(p.data)
    xp = b.xp
    lab = b.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if lab.ndim == p.ndim and lab.shape[-1] == 1:
        lab = lab.reshape(lab.shape[:-1])
    if tuple(lab.shape) != tuple(p.shape[:-1]):
        hint = ""
        if tuple(lab.shape) == tuple(p.shape):
            hint = (" The targets look one-hot encoded: use 'categorical_crossentropy' for "
                    "one-hot targets.")
        raise ValueError(
            "Loss 'sparse_categorical_crossentropy' expects integer targets of shape "
            f"{tuple(p.shape[:-1])} (or with a trailing 1) for predictions of shape "
            f"{tuple(p.shape)}. Received targets of shape {tuple(lab.shape)}.{hint}")
    k = p.shape[-1]
    valid = None
    if ignore_class is not None:
        valid = lab != ignore_class
        lab = xp.where(valid, lab, 0)
    if lab.dtype.kind not in "iu":
        lab = lab.astype(xp.int64)
    if lab.size and b.name == "numpy":
        lo, hi = int(lab.min()), int(lab.max())
        if lo < 0 or hi >= k:
            raise ValueError(
                f"Received a label value of {lo if lo < 0 else hi} which is outside the valid "
                f"range of [0, {k - 1}] for loss 'sparse_categorical_crossentropy' "
                f"(predictions have {k} classes).")
    logits = _fused_logits(p, from_logits)
    if logits is not None:
        loss = ops.sparse_softmax_cross_entropy(logits, lab)
    else:
        eps = epsilon()
        q = ops.clip(p / ops.sum(p, axis=-1, keepdims=True), eps, 1.0 - eps)
        onehot = (lab[..., None] == xp.arange(k)).astype(p.dtype)
        loss = -ops.sum(ops.log(q) * onehot, axis=-1)
    if valid is not None:
        loss = loss * valid.astype(loss.dtype)
    return _finish(loss, p, valid)


@register(_KIND, "bce", "BCE")
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Mean over ``axis`` of ``-(y log p + (1 - y) log(1 - p))``, per sample.

    Args:
        y_true: 0/1 (or probability) targets, same shape as ``y_pred``.
        y_pred: probabilities (clipped to ``[eps, 1 - eps]``) or, with ``from_logits=True``,
            logits (stable form ``max(z, 0) - z y + log(1 + exp(-|z|))``).
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y * (1 - s) + s / 2``.
        axis: the axis of the mean.
    """
    _check_args("binary_crossentropy", {"from_logits": from_logits, "axis": axis,
                                        "label_smoothing": label_smoothing})
    t, p = _prep(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = _fused_logits(p, from_logits)
    if logits is not None:
        return _finish(ops.mean(ops.sigmoid_cross_entropy(logits, t.data), axis=axis), p)
    eps = epsilon()
    q = ops.clip(p, eps, 1.0 - eps)
    return _finish(-ops.mean(ops.log(q) * t + ops.log(1.0 - q) * (1.0 - t), axis=axis), p)


@register(_KIND, "mse", "MSE")
def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((y_true - y_pred) ** 2)`` over the last axis, per sample."""
    t, p = _prep(y_true, y_pred, "mean_squared_error")
    return _finish(ops.mean(ops.square(p - t), axis=-1), p)


@register(_KIND, "mae", "MAE")
def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(|y_true - y_pred|)`` over the last axis, per sample."""
    t, p = _prep(y_true, y_pred, "mean_absolute_error")
    return _finish(ops.mean(ops.abs(p - t), axis=-1), p)


@register(_KIND, "mape", "MAPE")
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, eps))`` over the last axis."""
    t, p = _prep(y_true, y_pred, "mean_absolute_percentage_error")
    xp = backend_of(p.data).xp
    denom = xp.maximum(xp.abs(t.data), epsilon())
    return _finish(100.0 * ops.mean(ops.abs(p - t) / denom, axis=-1), p)


@register(_KIND, "msle", "MSLE")
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2)``, last axis."""
    t, p = _prep(y_true, y_pred, "mean_squared_logarithmic_error")
    xp = backend_of(p.data).xp
    eps = epsilon()
    lt = xp.log(xp.maximum(t.data, eps) + 1.0)
    return _finish(ops.mean(ops.square(ops.log(ops.maximum(p, eps) + 1.0) - lt), axis=-1), p)


def _hinge_labels(t: Tensor) -> Any:
    """Labels all in {0, 1} become {-1, 1} (decided on the device: no host sync)."""
    xp = backend_of(t.data).xp
    y = t.data
    binary = ((y == 0) | (y == 1)).all()
    return xp.where(binary, 2.0 * y - 1.0, y).astype(y.dtype, copy=False)


@register(_KIND)
def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis; {0, 1} labels → {-1, 1}."""
    t, p = _prep(y_true, y_pred, "hinge")
    return _finish(ops.mean(ops.maximum(1.0 - p * _hinge_labels(t), 0.0), axis=-1), p)


@register(_KIND)
def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis; {0, 1} → {-1, 1}."""
    t, p = _prep(y_true, y_pred, "squared_hinge")
    m = ops.maximum(1.0 - p * _hinge_labels(t), 0.0)
    return _finish(ops.mean(ops.square(m), axis=-1), p)


@register(_KIND)
def categorical_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y p)``, ``neg = max((1 - y) p)``."""
    t, p = _prep(y_true, y_pred, "categorical_hinge")
    pos = ops.sum(p * t, axis=-1)
    neg = ops.max(p * (1.0 - t.data), axis=-1)
    return _finish(ops.maximum(neg - pos + 1.0, 0.0), p)


@register(_KIND, "kld", "KLD", "kullback_leibler_divergence")
def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to [eps, 1]."""
    t, p = _prep(y_true, y_pred, "kl_divergence")
    xp = backend_of(p.data).xp
    eps = epsilon()
    tc = xp.clip(t.data, eps, 1.0)
    logr = ops.subtract(xp.log(tc), ops.log(ops.clip(p, eps, 1.0)))
    return _finish(ops.sum(logr * tc, axis=-1), p)


@register(_KIND)
def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + eps))`` over the last axis."""
    t, p = _prep(y_true, y_pred, "poisson")
    return _finish(ops.mean(p - ops.log(p + epsilon()) * t, axis=-1), p)


@register(_KIND)
def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """Mean over the last axis of ``e²/2`` where ``|e| <= delta``, else ``delta |e| - delta²/2``.

    Args:
        delta: a positive float, where the loss changes from quadratic to linear.
    """
    _check_args("huber", {"delta": delta})
    t, p = _prep(y_true, y_pred, "huber")
    e = p - t
    a = ops.abs(e)
    small = a.data <= delta
    val = ops.where(small, 0.5 * ops.square(e), delta * a - 0.5 * delta * delta)
    return _finish(ops.mean(val, axis=-1), p)


@register(_KIND, "logcosh")
def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, as ``e + softplus(-2e) - log 2``."""
    t, p = _prep(y_true, y_pred, "log_cosh")
    e = p - t
    return _finish(ops.mean(e + ops.softplus(-2.0 * e) - _LOG2, axis=-1), p)


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    ss = ops.sum(ops.square(x), axis=axis, keepdims=True)
    eps = epsilon()
    return x / ops.sqrt(ops.maximum(ss, eps * eps))


@register(_KIND)
def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred))`` over ``axis`` (in [-1, 1]).

    A zero vector on either side gives 0.
    """
    _check_args("cosine_similarity", {"axis": axis})
    t, p = _prep(y_true, y_pred, "cosine_similarity")
    xp = backend_of(p.data).xp
    eps = epsilon()
    tn = t.data / xp.sqrt(xp.maximum((t.data * t.data).sum(axis=axis, keepdims=True), eps * eps))
    return _finish(-ops.sum(_l2_normalize(p, axis) * tn, axis=axis), p)


# -- reduction ---------------------------------------------------------------------------------
def _weights(sample_weight: Any, values: Tensor) -> Any:
    """Sample weights as a raw array broadcastable to ``values`` (``[N]`` → ``[N, 1, ...]``)."""
    b = backend_of(values.data)
    w = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
    w = b.asarray(w).astype(values.dtype, copy=False)
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    while w.ndim < values.ndim:
        w = w[..., None]
    try:
        np.broadcast_shapes(w.shape, values.shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(w.shape)} cannot be broadcast to the "
                         f"per-sample loss of shape {tuple(values.shape)}.") from None
    return w


def reduce_loss(values: Tensor, sample_weight: Any = None,
                reduction: str | None = "sum_over_batch_size", mask: Any = None) -> Tensor:
    """Weights, masks and reduces per-sample losses as Keras's ``reduce_weighted_values``.

    Args:
        values: per-sample losses (a Tensor; its ``_keras_mask`` is used when ``mask`` is None).
        sample_weight: optional weights, ``[N]`` or the shape of ``values``.
        reduction: ``"sum_over_batch_size"``/``"mean"`` (sum / number of elements, masked
            entries left out of the count), ``"sum"``, ``"mean_with_sample_weight"``
            (sum / sum of weights) or ``"none"``/``None``.
        mask: boolean array of valid entries.

    Returns:
        A scalar Tensor (or ``values`` weighted, for ``"none"``). Divisions by zero give 0.
    """
    if reduction == "auto":
        reduction = "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                         f"Expected one of {REDUCTIONS}.")
    if not isinstance(values, Tensor):
        values = as_tensor(values)
    if mask is None:
        mask = values._keras_mask
    xp = backend_of(values.data).xp
    w = None if sample_weight is None else _weights(sample_weight, values)
    if mask is not None:
        m = (mask.data if isinstance(mask, Tensor) else mask).astype(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = m.sum()
            m = m * xp.where(valid > 0, m.size / xp.where(valid > 0, valid, 1), 0)
        w = m if w is None else w * m
    if w is not None:
        values = values * w
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        sw = xp.broadcast_to(w, values.shape).sum()
        return total * xp.where(sw != 0, 1.0 / xp.where(sw != 0, sw, 1), 0).astype(total.dtype)
    return total / values.size if values.size else total


# -- Loss classes -----------------------------------------------------------------------------
class Loss:
    """Base class of losses: ``loss(y_true, y_pred, sample_weight=None)`` → scalar Tensor.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values written with
    ``gpunet.ops`` (so gradients flow).

    Args:
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"none"`` (also
            ``"mean"`` and ``"mean_with_sample_weight"``).
        name: the name shown in logs.
        dtype: kept for Keras compatibility (computations follow ``y_pred``'s dtype).

    Example:

    >>> class MyLoss(gpunet.losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return gpunet.ops.mean(gpunet.ops.abs(y_pred - y_true), axis=-1)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None) -> None:
        if reduction == "auto":
            reduction = "sum_over_batch_size"
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                             f"Expected one of {REDUCTIONS}.")
        self.reduction = reduction
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"{type(self).__name__}.call() must return a Tensor (write it with "
                            f"gpunet.ops); it returned {type(values).__name__}.")
        mask = values._keras_mask
        if mask is None and isinstance(y_pred, Tensor) and y_pred._keras_mask is not None:
            pm = y_pred._keras_mask
            pm = pm.data if isinstance(pm, Tensor) else pm
            mask = pm if tuple(pm.shape) == tuple(values.shape) else None
        return reduce_loss(values, sample_weight, self.reduction, mask)

    def get_config(self) -> dict:
        cfg = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            cfg["dtype"] = self.dtype
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the per-sample loss function (built-in or custom, written with ``gpunet.ops``).
        reduction, name, dtype: as for ``Loss``.
        **kwargs: passed to ``fn`` on every call.
    """

    def __init__(self, fn, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(reduction, name or getattr(fn, "__name__", None), dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        cfg = super().get_config()
        if type(self) is LossFunctionWrapper:
            cfg["fn"] = getattr(self.fn, "__name__", str(self.fn))
        return {**cfg, **self.fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        config = dict(config)
        if "fn" in config:
            fn = config.pop("fn")
            return cls(lookup(_KIND, fn) if isinstance(fn, str) else fn, **config)
        return cls(**config)


def _loss_class(cls_name: str, fn, defaults: dict, default_name: str, doc: str):
    """A ``LossFunctionWrapper`` subclass with Keras's signature ``(*fn_args, reduction, name,
    dtype)``; hyper-parameters are checked at construction."""
    order = [*defaults, "reduction", "name", "dtype"]

    def __init__(self, *args, **kw):
        if len(args) > len(order):
            raise TypeError(f"{cls_name}() takes at most {len(order)} positional arguments "
                            f"({len(args)} given)")
        vals = dict(zip(order, args))
        both = set(vals) & set(kw)
        if both:
            raise TypeError(f"{cls_name}() got multiple values for argument(s) {sorted(both)}")
        vals.update(kw)
        unknown = set(vals) - set(order)
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                            f"expected some of {order}")
        fn_kwargs = {k: vals.get(k, v) for k, v in defaults.items()}
        _check_args(cls_name, fn_kwargs)
        LossFunctionWrapper.__init__(self, fn, vals.get("reduction", "sum_over_batch_size"),
                                     vals.get("name") or default_name, vals.get("dtype"),
                                     **fn_kwargs)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
               for k, v in {**defaults, "reduction": "sum_over_batch_size",
                            "name": default_name, "dtype": None}.items()]
    __init__.__signature__ = inspect.Signature(params)
    cls = type(cls_name, (LossFunctionWrapper,),
               {"__init__": __init__, "__doc__": doc, "__module__": __name__})
    return register(_KIND)(cls)


_CE = {"from_logits": False, "label_smoothing": 0.0, "axis": -1}
CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy, _CE, "categorical_crossentropy",
    "Categorical cross-entropy for one-hot targets (see ``categorical_crossentropy``).")
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    {"from_logits": False, "ignore_class": None}, "sparse_categorical_crossentropy",
    "Categorical cross-entropy for integer targets; ``ignore_class`` entries leave the mean.")
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy, dict(_CE), "binary_crossentropy",
    "Binary cross-entropy for 0/1 (or probability) targets (see ``binary_crossentropy``).")
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, {},
                               "mean_squared_error", "Mean of squared errors, last axis.")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, {},
                                "mean_absolute_error", "Mean of absolute errors, last axis.")
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, {},
    "mean_absolute_percentage_error", "``100 * mean(|y - p| / max(|y|, eps))``, last axis.")
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, {},
    "mean_squared_logarithmic_error", "Mean squared error of ``log(x + 1)``, last axis.")
Hinge = _loss_class("Hinge", hinge, {}, "hinge", "Hinge loss; {0, 1} labels map to {-1, 1}.")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, {}, "squared_hinge",
                           "Squared hinge loss; {0, 1} labels map to {-1, 1}.")
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge, {}, "categorical_hinge",
                               "Categorical hinge loss ``max(neg - pos + 1, 0)``.")
KLDivergence = _loss_class("KLDivergence", kl_divergence, {}, "kl_divergence",
                           "Kullback-Leibler divergence ``sum(y log(y / p))``.")
Poisson = _loss_class("Poisson", poisson, {}, "poisson", "Poisson loss ``mean(p - y log p)``.")
Huber = _loss_class("Huber", huber, {"delta": 1.0}, "huber_loss",
                    "Huber loss: quadratic below ``delta``, linear above.")
LogCosh = _loss_class("LogCosh", log_cosh, {}, "log_cosh",
                      "Mean of ``log(cosh(y_pred - y_true))``.")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity, {"axis": -1},
                               "cosine_similarity", "Negative cosine similarity over ``axis``.")


@register(_KIND, "crossentropy", "ce")
class AutoCrossentropy(Loss):
    """``"crossentropy"``/``"ce"``: binary, sparse or categorical chosen from the shapes at the
    first call, as Keras resolves it in ``compile`` (one output unit → binary; integer-like
    targets → sparse; else categorical)."""

    def __init__(self, reduction="sum_over_batch_size", name="crossentropy", dtype=None):
        super().__init__(reduction, name, dtype)
        self.fn = None

    def call(self, y_true, y_pred):
        if self.fn is None:
            ts, ps = tuple(getattr(y_true, "shape", ())), tuple(y_pred.shape)
            if ps[-1] == 1:
                self.fn = binary_crossentropy
            elif len(ts) < len(ps) or (ts and ts[-1] == 1):
                self.fn = sparse_categorical_crossentropy
            else:
                self.fn = categorical_crossentropy
        return self.fn(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = binary_crossentropy
logcosh = log_cosh


def get(identifier: Any):
    """A loss from a name (``"mse"``, ``"Huber"``), a config, a ``Loss`` or a callable.

    Raises:
        ValueError: for an unknown name, listing the closest known names.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        obj = lookup(_KIND, identifier)
        return obj() if isinstance(obj, type) else obj
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}")


def deserialize(config: Any, custom_objects: dict | None = None):
    """Builds a loss from a name or a ``{"class_name", "config"}`` dict."""
    if isinstance(config, str):
        obj = lookup(_KIND, config, custom_objects)
        return obj() if isinstance(obj, type) else obj
    if isinstance(config, dict):
        cls = lookup(_KIND, config["class_name"], custom_objects)
        cfg = dict(config.get("config") or {})
        if hasattr(cls, "from_config"):
            return cls.from_config(cfg)
        return cls(**cfg) if isinstance(cls, type) else cls
    return config


def serialize(loss: Any) -> Any:
    """The string or ``{"class_name", "config"}`` under which a loss is saved."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", loss)
