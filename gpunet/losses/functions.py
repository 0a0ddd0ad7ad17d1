"""The per-sample loss functions (Keras names): each returns one value per sample."""

from __future__ import annotations

import functools
import warnings
from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, epsilon
from gpunet.losses._common import (  # noqa: F401
    _KIND,
    _LOG2,
    _check_args,
    _finish,
    _fused_logits,
    _hint,
    _last,
    _pred,
    _prep,
    _truth,
)
from gpunet.ops.losses import check_label_range
from gpunet.registry import register


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
    return _categorical_ce(y_true, y_pred, from_logits, label_smoothing, axis, False)


def _categorical_ce(y_true: Any, y_pred: Any, from_logits: bool = False,
                    label_smoothing: float = 0.0, axis: int = -1, mean: bool = False) -> Tensor:
    """``categorical_crossentropy``; ``mean=True``: the mean over the samples in the same
    node (a 0-d tensor) where no mask applies, else the per-sample values."""
    if (from_logits.__class__ is not bool or axis.__class__ is not int
            or not (label_smoothing.__class__ is float and 0.0 <= label_smoothing <= 1.0)):
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
                      stacklevel=3)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / k
    logits = _fused_logits(p, from_logits, "softmax")
    if logits is not None:
        if axis % p.ndim != p.ndim - 1:
            logits, t = _last(logits, axis), _last(t, axis)
        mean = mean and p._keras_mask is None
        return _finish(ops.softmax_cross_entropy(logits, t.data, None if from_logits else p,
                                                 mean), p)
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
    return _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis, False)


def _sparse_ce(y_true: Any, y_pred: Any, from_logits: bool = False,
               ignore_class: int | None = None, axis: int = -1, mean: bool = False) -> Tensor:
    """``sparse_categorical_crossentropy``; ``mean=True``: the mean over the samples in the
    same node (a 0-d tensor) where no mask applies, else the per-sample values."""
    if (from_logits.__class__ is not bool or axis.__class__ is not int
            or (ignore_class is not None and ignore_class.__class__ is not int)):
        _check_args("sparse_categorical_crossentropy", {
            "from_logits": from_logits, "axis": axis, "ignore_class": ignore_class})
    p = y_pred if y_pred.__class__ is Tensor and y_pred.data.dtype.kind == "f" else _pred(
        y_pred)
    if axis != -1 and axis % p.ndim != p.ndim - 1:
        p = _last(p, axis)
    b = backend_of(p.data)
    xp = b.xp
    lab = b.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if lab.ndim == p.ndim and lab.shape[-1] == 1:
        lab = lab.reshape(lab.shape[:-1])
    if lab.shape != p.shape[:-1]:
        _bad_sparse_shape(tuple(lab.shape), tuple(p.shape))
    k = p.shape[-1]
    valid = None
    if ignore_class is not None:
        valid = lab != ignore_class
        lab = xp.where(valid, lab, 0)
    if lab.dtype.kind not in "iu":
        lab = lab.astype(xp.int64)
    logits = _fused_logits(p, from_logits, "softmax")
    if logits is None and lab.size and b.is_host:  # (the fused op checks them itself)
        check_label_range(lab, k)
    if logits is not None:
        probs = None if from_logits else p
        if mean and valid is None and p._keras_mask is None:  # no mask to attach
            return ops.sparse_softmax_cross_entropy(logits, lab, probs, True)
        loss = ops.sparse_softmax_cross_entropy(logits, lab, probs)
    else:
        eps = epsilon()
        q = ops.clip(p / ops.sum(p, axis=-1, keepdims=True), eps, 1.0 - eps)
        onehot = (lab[..., None] == xp.arange(k)).astype(p.dtype)
        loss = -ops.sum(ops.log(q) * onehot, axis=-1)
    if valid is not None:
        loss = loss * valid.astype(loss.dtype)
    return _finish(loss, p, valid)


def _bad_sparse_shape(lab_shape: tuple, p_shape: tuple) -> None:
    hint = ""
    if lab_shape == p_shape:
        hint = (" The targets look one-hot encoded: use 'categorical_crossentropy' for "
                "one-hot targets.")
    raise ValueError(
        "Loss 'sparse_categorical_crossentropy' expects integer targets of shape "
        f"{p_shape[:-1]} (or with a trailing 1) for predictions of shape "
        f"{p_shape}. Received targets of shape {lab_shape}.{hint}")


# the batch mean in one node where possible, for the compiled loss (LossContainer)
categorical_crossentropy.batch_mean = functools.partial(_categorical_ce, mean=True)
sparse_categorical_crossentropy.batch_mean = functools.partial(_sparse_ce, mean=True)


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
    logits = _fused_logits(p, from_logits, "sigmoid")
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
    t, p = _prep(y_true, y_pred, "cosine_similarity", expand=False)
    xp = backend_of(p.data).xp
    eps = epsilon()
    tn = t.data / xp.sqrt(xp.maximum((t.data * t.data).sum(axis=axis, keepdims=True), eps * eps))
    return _finish(-ops.sum(_l2_normalize(p, axis) * tn, axis=axis), p)


# -- reduction ---------------------------------------------------------------------------------
