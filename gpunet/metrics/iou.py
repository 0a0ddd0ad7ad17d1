"""Intersection-over-Union metrics (Keras 3's ``IoU``, ``MeanIoU``, ``BinaryIoU``,
``OneHotIoU``, ``OneHotMeanIoU``) over a ``[num_classes, num_classes]`` confusion matrix
kept on the device.

Each batch adds its weighted ``(label, prediction)`` pairs to the matrix with one
``bincount`` (NumPy) or scatter-add (CuPy) over the flat index ``label * num_classes +
prediction``; rows are true classes, columns predicted classes. The IoU of class ``c`` is
``cm[c, c] / (row_sum[c] + col_sum[c] - cm[c, c])``; the result is the mean over the target
classes whose denominator is non-zero, as in Keras.

Example:

>>> m = gpunet.metrics.MeanIoU(num_classes=2)
>>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
>>> float(m.result())       # IoU of each class: 1 / (2 + 2 - 1)
0.3333333
"""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of, epsilon, get_backend
from gpunet.metrics.base import _KIND, ACC, Metric, as_float, to_array
from gpunet.metrics.confusion import _hist
from gpunet.registry import register


def _check_int(owner: str, arg: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}: argument `{arg}` must be an integer >= {low}. "
                         f"Received: {arg}={value!r}")


class _IoUBase(Metric):
    """The accumulated confusion matrix shared by the IoU metrics.

    Labels and predictions are class ids (or, with ``sparse_y_true=False`` /
    ``sparse_y_pred=False``, scores whose ``argmax`` over ``axis`` is taken); float ids are
    truncated to integers. Entries whose label equals ``ignore_class`` get weight 0. Pairs
    with an id outside ``[0, num_classes)`` are dropped (Keras's JAX behaviour; TensorFlow
    raises instead), so that no host sync is needed to check them.
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1) -> None:
        super().__init__(name, dtype)
        owner = type(self).__name__
        _check_int(owner, "num_classes", num_classes, 1)
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not isinstance(ignore_class, int)):
            raise ValueError(f"{owner}: argument `ignore_class` must be an integer or None. "
                             f"Received: ignore_class={ignore_class!r}")
        self.num_classes, self.ignore_class = num_classes, ignore_class
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.axis = axis
        self.total_cm: Any = None

    def _ids(self, x: Any, sparse: bool) -> Any:
        xp = backend_of(x).xp
        if not sparse:
            x = xp.argmax(x, axis=self.axis)
        if x.dtype.kind == "b":
            x = x.astype("int64")
        return x

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds this batch's weighted (label, prediction) pairs to the confusion matrix.

        Args:
            y_true: class ids (or one-hot / scores when ``sparse_y_true=False``).
            y_pred: class ids (or scores when ``sparse_y_pred=False``).
            sample_weight: optional weights: a scalar, one per class id (any shape with
                as many entries; flattened), or one per sample (a prefix of the ids' shape,
                e.g. ``[N]`` for ``[N, H, W]`` label maps; broadcast over the rest).
        """
        p = to_array(y_pred)
        t = to_array(y_true, p)
        xp = backend_of(p).xp
        t, p = self._ids(t, self.sparse_y_true), self._ids(p, self.sparse_y_pred)
        shape = tuple(t.shape)
        t, p = t.reshape(-1), p.reshape(-1)
        if t.shape != p.shape:
            raise ValueError(f"Metric '{self.name}': y_true and y_pred must hold the same "
                             f"number of class ids. Received: {t.shape[0]} labels and "
                             f"{p.shape[0]} predictions.")
        if sample_weight is None:
            w = xp.ones(t.shape, dtype=ACC)
        else:
            w = as_float(to_array(sample_weight, p)).astype(ACC)
            if w.ndim and w.size != t.size:        # per-sample weights of label maps
                if w.ndim < len(shape) and tuple(w.shape) == shape[:w.ndim]:
                    w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
                if w.ndim == len(shape):
                    try:
                        w = xp.broadcast_to(w, shape)
                    except ValueError:
                        pass
            try:
                w = xp.broadcast_to(w.reshape(-1) if w.ndim > 1 else w, t.shape)
            except ValueError:
                raise ValueError(f"Metric '{self.name}': sample_weight of shape "
                                 f"{tuple(w.shape)} does not fit {t.shape[0]} class ids.") \
                    from None
        if self.ignore_class is not None:
            w = w * (t != self.ignore_class)
        n = self.num_classes
        ti, pi = t.astype("int64"), p.astype("int64")
        ok = (ti >= 0) & (ti < n) & (pi >= 0) & (pi < n)
        idx = xp.where(ok, ti * n + pi, 0)
        cm = _hist(xp, idx, w * ok, n * n).reshape(n, n)
        if self.total_cm is None:
            self.total_cm = xp.zeros((n, n), dtype=ACC)
        self.total_cm += cm

    def _cm(self) -> Any:
        if self.total_cm is None:
            self.total_cm = get_backend().xp.zeros((self.num_classes,) * 2, dtype=ACC)
        return self.total_cm

    def reset_state(self) -> None:
        if self.total_cm is not None:
            self.total_cm.fill(0)


@register(_KIND, "io_u", "iou")
class IoU(_IoUBase):
    """Intersection-over-Union ``tp / (tp + fp + fn)`` averaged over chosen classes.

    The per-class IoUs come from the accumulated confusion matrix; the result is their mean
    over ``target_class_ids``, counting only classes that occurred (non-zero denominator):
    ``sum(iou) / (number of valid classes + eps)``.

    Args:
        num_classes: the number of classes (the confusion matrix is
            ``[num_classes, num_classes]``).
        target_class_ids: the class ids whose IoUs are averaged (one id: that class's IoU).
        name: log key (default ``"io_u"``).
        dtype: kept for Keras compatibility.
        ignore_class: a label id (e.g. 255 or -1 for "void") whose entries are left out.
        sparse_y_true: whether labels are class ids; ``False``: take the ``argmax``.
        sparse_y_pred: whether predictions are class ids; ``False``: take the ``argmax``.
        axis: the class axis for the ``argmax`` (default -1).

    Example:

    >>> m = IoU(num_classes=2, target_class_ids=[0])
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    >>> float(m.result())       # 0.3 / (0.6 + 0.6 - 0.3)
    0.3333333
    """

    def __init__(self, num_classes: int, target_class_ids: Any, name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True,
                 axis: int = -1) -> None:
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred,
                         axis)
        ids = [target_class_ids] if isinstance(target_class_ids, int) else list(
            target_class_ids)
        if not ids or any(isinstance(i, bool) or not isinstance(i, int) or not
                          0 <= i < num_classes for i in ids):
            raise ValueError(f"{type(self).__name__}: argument `target_class_ids` must hold "
                             f"class ids in [0, {num_classes}). "
                             f"Received: target_class_ids={target_class_ids!r}")
        self.target_class_ids = ids

    def result(self) -> Any:
        cm = self._cm()
        xp = backend_of(cm).xp
        tp = xp.diagonal(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        ids = xp.asarray(self.target_class_ids)
        tp, denominator = tp[ids], denominator[ids]
        valid = (denominator > 1e-9).sum()
        eps = epsilon()
        return (tp / (denominator + eps)).sum() / (valid + eps)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": list(self.target_class_ids),
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


@register(_KIND, "binary_io_u", "binary_iou")
class BinaryIoU(IoU):
    """IoU of class 0 and/or 1 after thresholding: ``y_pred >= threshold`` is class 1.

    Args:
        target_class_ids: ``[0]``, ``[1]`` or ``[0, 1]`` (default: the mean of both).
        threshold: predictions at or above it are class 1 (default 0.5).
        name: log key (default ``"binary_io_u"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
    >>> float(m.result())
    0.3333333
    """

    def __init__(self, target_class_ids: Any = (0, 1), threshold: float = 0.5,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(2, target_class_ids, name, dtype)
        self.threshold = threshold

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = as_float(to_array(y_pred))
        super().update_state(y_true, p >= self.threshold, sample_weight)

    def get_config(self) -> dict:
        return {"target_class_ids": list(self.target_class_ids), "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


@register(_KIND, "mean_io_u", "mean_iou")
class MeanIoU(IoU):
    """The mean of the per-class IoUs over all ``num_classes`` classes (those that occur).

    Args: as for ``IoU`` without ``target_class_ids`` (default name ``"mean_io_u"``).

    Example:

    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    >>> float(m.result())       # (0.3 / 0.9 + 0.1 / 0.7) / 2
    0.2380952
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1) -> None:
        _check_int(type(self).__name__, "num_classes", num_classes, 1)
        super().__init__(num_classes, list(range(num_classes)), name, dtype, ignore_class,
                         sparse_y_true, sparse_y_pred, axis)

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["target_class_ids"]
        return cfg


@register(_KIND, "one_hot_io_u", "one_hot_iou")
class OneHotIoU(IoU):
    """``IoU`` for one-hot labels: the ``argmax`` of ``y_true`` (and of ``y_pred`` unless
    ``sparse_y_pred``) over ``axis`` gives the class ids.

    Args: as for ``IoU`` without ``sparse_y_true`` (default name ``"one_hot_io_u"``).
    """

    def __init__(self, num_classes: int, target_class_ids: Any, name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None,
                 sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False,
                         sparse_y_pred, axis)

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["sparse_y_true"]
        return cfg


@register(_KIND, "one_hot_mean_io_u", "one_hot_mean_iou")
class OneHotMeanIoU(MeanIoU):
    """``MeanIoU`` for one-hot labels (see ``OneHotIoU``).

    Args: as for ``MeanIoU`` without ``sparse_y_true`` (default name
    ``"one_hot_mean_io_u"``).

    Example:

    >>> m = OneHotMeanIoU(num_classes=3)
    >>> m.update_state(np.eye(3)[[2, 0, 1, 0]],
    ...                [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]],
    ...                sample_weight=[0.1, 0.2, 0.3, 0.4])
    >>> float(m.result())       # (0 + 0 + 0.1 / 0.7) / 3
    0.047619
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_pred: bool = False,
                 axis: int = -1) -> None:
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["sparse_y_true"]
        return cfg
