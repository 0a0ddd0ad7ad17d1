"""Keras 3 losses beyond the classic set: focal cross-entropies, Dice, Tversky, CTC, Circle.

Each is a per-sample function registered under its Keras name (so ``loss="dice"`` works in
``compile``) and a ``LossFunctionWrapper`` class with Keras's signature and defaults. The
formulas follow Keras 3 (``keras/src/losses/losses.py``); where gpunet deviates (stable
logits forms, CTC on softmax outputs) the docstring says so.

Example:

>>> from gpunet import losses
>>> losses.binary_focal_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])  # [0.330, 0.206]
>>> losses.Dice(axis=(1, 2, 3), reduction=None)(masks, predicted_masks)
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, epsilon
from gpunet.losses._common import _KIND, _check_args, _finish, _fused_logits, _pred, _prep, _truth
from gpunet.losses.classes import LossFunctionWrapper
from gpunet.ops.ctc import CTCLoss
from gpunet.registry import register


# -- argument checks ---------------------------------------------------------------------------
def _number(owner: str, name: str, v: Any, lo: float | None = None, hi: float | None = None):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (
            lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f" in [{lo}, {hi}]" if hi is not None else (f" >= {lo}" if lo is not None else "")
        raise ValueError(f"{owner}: argument `{name}` must be a finite number{rng}. "
                         f"Received: {name}={v!r}")


def _check_extra(owner: str, kw: dict) -> dict:
    """Checks the hyper-parameters of the losses here; returns them normalised."""
    kw = dict(kw)
    if "from_logits" in kw:   # focal losses: the shared checks (axis is one int)
        _check_args(owner, {k: kw[k] for k in ("from_logits", "label_smoothing", "axis")})
    if "apply_class_balancing" in kw and not isinstance(kw["apply_class_balancing"], bool):
        raise TypeError(f"{owner}: argument `apply_class_balancing` must be True or False. "
                        f"Received: apply_class_balancing={kw['apply_class_balancing']!r}")
    if "remove_diagonal" in kw and not isinstance(kw["remove_diagonal"], bool):
        raise TypeError(f"{owner}: argument `remove_diagonal` must be True or False. "
                        f"Received: remove_diagonal={kw['remove_diagonal']!r}")
    if "gamma" in kw:
        _number(owner, "gamma", kw["gamma"], 0.0)
    for name in ("beta", "margin"):
        if name in kw:
            _number(owner, name, kw[name])
    if "alpha" in kw:
        a = kw["alpha"]
        if isinstance(a, (list, tuple)):
            for v in a:
                _number(owner, "alpha", v)
            kw["alpha"] = list(a)
        else:
            _number(owner, "alpha", a)
    if "axis" in kw and "from_logits" not in kw:   # Dice / Tversky: None, an int or ints
        ax = kw["axis"]
        ints = isinstance(ax, (list, tuple)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in ax)
        if not (ax is None or ints or (isinstance(ax, int) and not isinstance(ax, bool))):
            raise TypeError(f"{owner}: argument `axis` must be None, an int or a tuple of "
                            f"ints. Received: axis={ax!r}")
        kw["axis"] = tuple(ax) if ints else ax
    return kw


def _extra_class(cls_name: str, fn, defaults: dict, default_name: str, doc: str,
                 order: list | None = None):
    """Like ``classes._loss_class`` but with Keras's positional order (``Dice`` puts ``axis``
    after ``name``) and the checks of this module (``axis`` may be a tuple here)."""
    order = order or [*defaults, "reduction", "name", "dtype"]
    allowed = {*defaults, "reduction", "name", "dtype"}

    def __init__(self, *args, **kw):
        if len(args) > len(order):
            raise TypeError(f"{cls_name}() takes at most {len(order)} positional arguments "
                            f"({len(args)} given)")
        vals = dict(zip(order, args))
        both = set(vals) & set(kw)
        if both:
            raise TypeError(f"{cls_name}() got multiple values for argument(s) {sorted(both)}")
        vals.update(kw)
        unknown = set(vals) - allowed
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                            f"expected some of {order}")
        fn_kwargs = _check_extra(cls_name, {k: vals.get(k, v) for k, v in defaults.items()})
        LossFunctionWrapper.__init__(self, fn, vals.get("reduction", "sum_over_batch_size"),
                                     vals.get("name") or default_name, vals.get("dtype"),
                                     **fn_kwargs)

    full = {**defaults, "reduction": "sum_over_batch_size", "name": default_name, "dtype": None}
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=full[k])
               for k in order]
    __init__.__signature__ = inspect.Signature(params)
    cls = type(cls_name, (LossFunctionWrapper,),
               {"__init__": __init__, "__doc__": doc, "__module__": __name__})
    return register(_KIND)(cls)


# -- focal cross-entropies ---------------------------------------------------------------------
@register(_KIND)
def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Binary cross-entropy scaled by the focal factor ``(1 - p_t) ** gamma`` (Lin et al.).

    ``p_t = y * p + (1 - y) * (1 - p)``; with ``apply_class_balancing`` the result is also
    weighted by ``alpha`` for class 1 and ``1 - alpha`` for class 0. The mean is over ``axis``.

    Args:
        y_true: 0/1 (or probability) targets, same shape as ``y_pred``.
        y_pred: probabilities (clipped to ``[eps, 1 - eps]`` inside the log) or, with
            ``from_logits=True``, logits (stable log-sigmoid form, no clipping).
        apply_class_balancing: whether to weight the classes by ``alpha`` / ``1 - alpha``.
        alpha: weight of class 1 when balancing.
        gamma: focusing parameter (``0`` gives plain binary cross-entropy).
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y * (1 - s) + s / 2``.
        axis: the axis of the mean.

    Returns:
        Per-sample losses, shape ``y_pred.shape`` without ``axis``.

    Example:

    >>> binary_focal_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])  # [0.330, 0.206]
    """
    name = "binary_focal_crossentropy"
    _check_extra(name, {"apply_class_balancing": apply_class_balancing, "alpha": alpha,
                        "gamma": gamma, "from_logits": from_logits,
                        "label_smoothing": label_smoothing, "axis": axis})
    t, p = _prep(y_true, y_pred, name)
    y = t.data
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = _fused_logits(p, from_logits, "sigmoid")
    if logits is not None:
        bce = ops.sigmoid_cross_entropy(logits, y)
        q = ops.sigmoid(logits) if from_logits else p
    else:
        eps = epsilon()
        q = p
        c = ops.clip(p, eps, 1.0 - eps)
        bce = -(ops.log(c) * y + ops.log(1.0 - c) * (1.0 - y))
    p_t = q * y + (1.0 - q) * (1.0 - y)
    loss = bce if gamma == 0 else ops.power(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        loss = loss * (y * alpha + (1.0 - y) * (1.0 - alpha))
    return _finish(ops.mean(loss, axis=axis), p)


@register(_KIND)
def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float | list = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False,
                                   label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """``sum(alpha * (1 - q) ** gamma * -y * log(q))`` over ``axis``, per sample.

    ``q`` is ``y_pred`` re-normalised over ``axis`` and clipped to ``[eps, 1 - eps]`` (Keras
    3), or the softmax of the logits (``log q`` from a stable log-softmax, no clipping).

    Args:
        y_true: one-hot (or probability) targets, same shape as ``y_pred``.
        y_pred: probabilities or, with ``from_logits=True``, logits.
        alpha: weighting factor, a float or one float per class.
        gamma: focusing parameter (``0`` gives ``alpha`` times the categorical cross-entropy).
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y * (1 - s) + s / K``.
        axis: the class axis.

    Returns:
        Per-sample losses, shape ``y_pred.shape`` without ``axis``.

    Example:

    >>> categorical_focal_crossentropy([[0, 1, 0], [0, 0, 1]],
    ...                                [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])  # [2.63e-4, 0.676]
    """
    name = "categorical_focal_crossentropy"
    _check_extra(name, {"alpha": alpha, "gamma": gamma, "from_logits": from_logits,
                        "label_smoothing": label_smoothing, "axis": axis})
    p = _pred(y_pred)
    t = _truth(y_true, p)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"Loss '{name}' expects one-hot targets of the shape of y_pred. "
                         f"Received: y_true.shape={tuple(t.shape)}, "
                         f"y_pred.shape={tuple(p.shape)}. Use gpunet.utils.to_categorical for "
                         "integer labels.")
    ax = axis % p.ndim
    k = p.shape[ax]
    if k == 1:
        warnings.warn(f"Loss '{name}' got y_pred with one class (shape {tuple(p.shape)}); use "
                      "'binary_focal_crossentropy' for two classes.", stacklevel=2)
    y = t.data
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / k
    xp = backend_of(p.data).xp
    a = alpha
    if isinstance(alpha, (list, tuple)):
        if len(alpha) != k:
            raise ValueError(f"Loss '{name}': argument `alpha` lists {len(alpha)} weights but "
                             f"y_pred has {k} classes.")
        shape = [1] * p.ndim
        shape[ax] = k
        a = xp.asarray(np.asarray(alpha, dtype=p.dtype).reshape(shape))
    logits = (_fused_logits(p, from_logits, "softmax") if from_logits or ax == p.ndim - 1
              else None)
    if logits is not None:
        logq = ops.log_softmax(logits, axis=ax)
        q = ops.exp(logq)
    else:
        eps = epsilon()
        q = ops.clip(p / ops.sum(p, axis=ax, keepdims=True), eps, 1.0 - eps)
        logq = ops.log(q)
    ce = -(logq * y)
    factor = ops.power(1.0 - q, float(gamma)) * a if gamma != 0 else a
    return _finish(ops.sum(ce * factor, axis=ax), p)


# -- overlap losses (segmentation) -------------------------------------------------------------
@register(_KIND)
def dice(y_true: Any, y_pred: Any, axis: int | tuple | None = None) -> Tensor:
    """``1 - 2 * sum(y * p) / (sum(y) + sum(p) + eps)`` over ``axis`` (Keras 3's formula).

    Args:
        y_true: targets (e.g. binary masks).
        y_pred: predictions in ``[0, 1]``, same shape as ``y_true``.
        axis: the axes summed over; ``None`` (Keras's default) sums everything, batch
            included, giving one scalar; ``(1, 2, 3)`` gives one value per image.

    Returns:
        The Dice loss: a scalar, or one value per entry of the axes not summed.

    Example:

    >>> dice(masks, predicted, axis=(1, 2, 3))   # shape [N]
    """
    axis = _check_extra("dice", {"axis": axis})["axis"]
    t, p = _prep(y_true, y_pred, "dice", expand=False)
    y = t.data
    inter = ops.sum(p * y, axis=axis)
    den = ops.sum(p, axis=axis) + (y.sum(axis=axis) + epsilon())
    return _finish(1.0 - 2.0 * inter / den, p)


@register(_KIND)
def tversky(y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5,
            axis: int | tuple | None = None) -> Tensor:
    """``1 - TP / (TP + alpha * A + beta * B + eps)`` over ``axis`` (Keras 3's formula).

    ``TP = sum(y * p)``, ``A = sum((1 - p) * y)``, ``B = sum(p * (1 - y))``. Keras names
    ``A`` "fp" and ``B`` "fn" (its docstring says ``alpha`` weighs false positives), but as
    written ``A`` counts missed positives; gpunet keeps Keras's formula so values match.
    With ``alpha = beta = 0.5`` this is the Dice loss.

    Args:
        y_true: targets (e.g. binary masks).
        y_pred: predictions in ``[0, 1]``, same shape as ``y_true``.
        alpha: weight of ``A``.
        beta: weight of ``B``.
        axis: the axes summed over (``None``: everything, giving one scalar).

    Returns:
        The Tversky loss: a scalar, or one value per entry of the axes not summed.
    """
    kw = _check_extra("tversky", {"alpha": alpha, "beta": beta, "axis": axis})
    t, p = _prep(y_true, y_pred, "tversky")
    y = t.data
    ax = kw["axis"]
    tp = ops.sum(p * y, axis=ax)
    a = ops.sum((1.0 - p) * y, axis=ax)
    b = ops.sum(p * (1.0 - y), axis=ax)
    return _finish(1.0 - tp / (tp + alpha * a + beta * b + epsilon()), p)


# -- CTC ---------------------------------------------------------------------------------------
@register(_KIND)
def ctc(y_true: Any, y_pred: Any) -> Tensor:
    """Connectionist temporal classification loss, one value per sequence.

    Args:
        y_true: integer labels of shape ``(batch_size, max_length)``, padded with ``0``:
            ``0`` is the blank/mask index (as in Keras 3) and must not be used as a class.
            The non-zero entries of a row, in order, are its label sequence.
        y_pred: logits of shape ``(batch_size, time_steps, num_classes)`` (Keras 3: not
            normalised by a softmax; a log-softmax is applied here). When ``y_pred`` is the
            output of a gpunet softmax (e.g. ``Dense(K, activation="softmax")``), the
            remembered logits are used, so softmax outputs give the true CTC likelihood
            (Keras 3 would take their log-softmax instead).

    Returns:
        ``-log p(labels | y_pred)`` per sequence, shape ``(batch_size,)``; ``inf`` for a
        label sequence that cannot fit in ``time_steps`` (its gradient is zero).

    Example:

    >>> ctc(np.array([[1, 2, 0]]), logits)   # logits of shape (1, T, 3)
    """
    p = _pred(y_pred)
    if p.ndim != 3:
        raise ValueError("Loss 'ctc': `y_pred` must have shape (batch_size, time_steps, "
                         f"num_classes). Received: y_pred.shape={tuple(p.shape)}")
    bk = backend_of(p.data)
    xp = bk.xp
    lab = bk.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if lab.ndim != 2 or lab.shape[0] != p.shape[0]:
        raise ValueError("Loss 'ctc': `y_true` must be integer labels of shape (batch_size, "
                         f"max_length) = ({p.shape[0]}, ...). Received: y_true.shape="
                         f"{tuple(lab.shape)}")
    lab = lab.astype(xp.int64)
    k = p.shape[-1]
    if lab.size and bk.is_host and (int(lab.min()) < 0 or int(lab.max()) >= k):
        raise ValueError(f"Loss 'ctc': labels must be in [0, {k - 1}] (0 is the blank) for "
                         f"y_pred with {k} classes. Received labels in "
                         f"[{int(lab.min())}, {int(lab.max())}].")
    nz = lab != 0
    lengths = nz.sum(axis=1)
    comp = xp.zeros_like(lab)
    pos = xp.cumsum(nz, axis=1) - 1
    rows = xp.broadcast_to(xp.arange(lab.shape[0])[:, None], lab.shape)
    comp[rows[nz], pos[nz]] = lab[nz]
    ext = xp.zeros((lab.shape[0], 2 * lab.shape[1] + 1), dtype=lab.dtype)
    ext[:, 1::2] = comp
    z = p
    lg = p._logits
    if lg is not None and lg.shape == p.shape and p._logits_kind == "softmax":
        z = lg
    return _finish(CTCLoss()(z, ext, lengths), p)


# -- Circle ------------------------------------------------------------------------------------
def _masked_lse(x: Tensor, mask: Any) -> tuple[Tensor, Any]:
    """Row-wise log-sum-exp of ``x`` over ``mask``; also whether each row has an entry."""
    xp = backend_of(x.data).xp
    has = mask.any(axis=1)
    m = xp.where(mask, x.data, -np.inf).max(axis=1)
    m = xp.where(has, m, 0.0).astype(x.dtype)
    e = ops.exp(ops.where(mask, x - m[:, None], -np.inf))
    s = ops.where(has, ops.sum(e, axis=1), 1.0)
    return ops.log(s) + m, has


@register(_KIND)
def circle(y_true: Any, y_pred: Any, ref_labels: Any = None, ref_embeddings: Any = None,
           remove_diagonal: bool = True, gamma: float = 80.0, margin: float = 0.4) -> Tensor:
    """Circle loss (Sun et al., 2020) of L2-normalised embeddings, one value per sample.

    With cosine distances ``d = max(1 - y_pred @ ref_embeddings.T, 0)``, positive pairs
    (same label; the diagonal removed when ``remove_diagonal``) and negative pairs:
    ``softplus(logsumexp_pos(-gamma * max(m + d, 0) * (m - d))
    + logsumexp_neg(gamma * max(1 + m - d, 0) * (1 - m - d)))``. Samples with no positive
    or no negative pair get 0 and, as in Keras, zero losses are masked out of the mean.

    Args:
        y_true: integer labels, shape ``(batch_size,)``.
        y_pred: L2-normalised embeddings, shape ``(batch_size, dim)``.
        ref_labels: labels of the reference embeddings (default ``y_true``).
        ref_embeddings: reference embeddings (default ``y_pred``).
        remove_diagonal: whether to drop self-similarities from the positive pairs.
        gamma: scale of the similarity scores.
        margin: relaxation margin.

    Returns:
        Per-sample losses, shape ``(batch_size,)``.
    """
    _check_extra("circle", {"remove_diagonal": remove_diagonal, "gamma": gamma,
                            "margin": margin})
    p = _pred(y_pred)
    bk = backend_of(p.data)

    def labels(v):
        v = bk.asarray(v.data if isinstance(v, Tensor) else v)
        return v.reshape(-1).astype(bk.xp.int64)

    lab = labels(y_true)
    ref = p if ref_embeddings is None else _truth(ref_embeddings, p)
    rlab = lab if ref_labels is None else labels(ref_labels)
    if p.ndim != 2 or lab.shape[0] != p.shape[0]:
        raise ValueError("Loss 'circle': expects y_pred of shape (batch_size, dim) and "
                         f"y_true of shape (batch_size,). Received: y_pred.shape="
                         f"{tuple(p.shape)}, y_true of {lab.shape[0]} labels.")
    d = ops.maximum(1.0 - ops.matmul(p, ops.transpose(ref)), 0.0)
    pos = lab[:, None] == rlab[None, :]
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~bk.xp.eye(pos.shape[0], pos.shape[1], dtype=bool)
    pw = ops.maximum((margin + d) * pos.astype(p.dtype), 0.0)
    nw = ops.maximum(((1.0 + margin) - d) * neg.astype(p.dtype), 0.0)
    lp, hp = _masked_lse(-gamma * pw * (margin - d), pos)
    ln, hn = _masked_lse(gamma * nw * ((1.0 - margin) - d), neg)
    loss = ops.where(hp & hn, ops.softplus(lp + ln), 0.0)
    return _finish(loss, p, loss.data > 0)


BinaryFocalCrossentropy = _extra_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy,
    {"apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, "from_logits": False,
     "label_smoothing": 0.0, "axis": -1}, "binary_focal_crossentropy",
    "Binary cross-entropy with a focal factor (see ``binary_focal_crossentropy``).")
CategoricalFocalCrossentropy = _extra_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy,
    {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "categorical_focal_crossentropy",
    "Categorical cross-entropy with a focal factor (see ``categorical_focal_crossentropy``).")
Dice = _extra_class("Dice", dice, {"axis": None}, "dice",
                    "Dice loss ``1 - 2 sum(y p) / (sum(y) + sum(p) + eps)`` (see ``dice``).",
                    order=["reduction", "name", "axis", "dtype"])
Tversky = _extra_class("Tversky", tversky, {"alpha": 0.5, "beta": 0.5, "axis": None}, "tversky",
                       "Tversky loss (see ``tversky``); Dice when ``alpha = beta = 0.5``.",
                       order=["alpha", "beta", "reduction", "name", "axis", "dtype"])
CTC = _extra_class("CTC", ctc, {}, "ctc", "CTC loss of dense labels padded with the blank 0 "
                   "against (batch, time, classes) logits (see ``ctc``).")
Circle = _extra_class("Circle", circle, {"gamma": 80.0, "margin": 0.4, "remove_diagonal": True},
                      "circle", "Circle loss of L2-normalised embeddings (see ``circle``).")
