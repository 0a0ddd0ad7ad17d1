"""Shared helpers of the losses: argument checks, rank alignment, masks, fused logits."""

from __future__ import annotations

import math
from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import floatx
from gpunet.ops._utils import as_tensor

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
        new._logits_kind = old._logits_kind
    new._keras_mask = old._keras_mask
    return new


# Keras 3 refuses differing shapes in these (its backends' binary cross-entropy checks them);
# every other loss computes on the shapes broadcast together
_SAME_SHAPE = ("binary_crossentropy", "binary_focal_crossentropy")
_WARNED: set = set()


def _prep(y_true: Any, y_pred: Any, name: str, expand: bool = True) -> tuple[Tensor, Tensor]:
    """``(y_true, y_pred)`` aligned as Keras aligns them; differing shapes that broadcast
    together are broadcast (with ``expand=False`` left as they are, for a loss whose formula
    reduces each one before they meet, as Keras's does), others raise."""
    p = _pred(y_pred)
    t, p = align(_truth(y_true, p), p)
    ts, ps = tuple(t.shape), tuple(p.shape)
    if ts == ps:
        return t, p
    shape = None
    if name not in _SAME_SHAPE:
        import numpy as np

        try:
            shape = np.broadcast_shapes(ts, ps)
        except ValueError:
            shape = None
    if shape is None:
        raise ValueError(
            f"Loss '{name}': y_true and y_pred must have the same shape (after aligning "
            f"[N] with [N, 1]). Received: y_true.shape={ts}, y_pred.shape={ps}."
            f"{_hint(name, ts, ps)}")
    if (name, ts, ps) not in _WARNED:  # Keras broadcasts without a word; often a mistake
        _WARNED.add((name, ts, ps))
        import warnings

        warnings.warn(f"Loss '{name}': y_true.shape={ts} and y_pred.shape={ps} differ; they "
                      f"are broadcast to {shape}, as Keras does.{_hint(name, ts, ps)}",
                      UserWarning, stacklevel=3)
    if not expand:
        return t, p
    if ts != shape:
        t = ops.broadcast_to(t, shape)
    if ps != shape:
        p = _keep_logits(ops.broadcast_to(p, shape), p)
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


def _fused_logits(y_pred: Tensor, from_logits: bool, kind: str) -> Tensor | None:
    """The logits to use: ``y_pred`` itself with ``from_logits``, else the input remembered by
    the activation that made ``y_pred`` when it is the matching one (``kind``: "softmax" for
    the categorical losses, "sigmoid" for the binary ones), else None (clip-then-log path)."""
    if from_logits:
        return y_pred
    lg = y_pred._logits
    if lg is None or lg.shape != y_pred.shape or y_pred._logits_kind != kind:
        return None
    return lg


# -- per-sample loss functions ----------------------------------------------------------------
