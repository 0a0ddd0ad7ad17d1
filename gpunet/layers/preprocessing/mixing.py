"""MixUp and CutMix (Keras 3.15): each image is mixed with another image of the batch (a
random permutation), and so are its labels, in proportion to the mix (see ``_image_base`` for
the shared ``call``).

Pass a dict ``{"images": ..., "labels": ...}`` (one-hot or soft labels ``(batch,
classes)``) to mix the labels too, as in Keras; bare images are mixed alone. A single image
(rank 3) has no partner: MixUp returns it (mixed with itself), CutMix returns it unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.layers.preprocessing._image_base import (
    BaseImageAugmentation,
    batch_size_of,
    is_number,
    set_factor,
)
from gpunet.layers.preprocessing.erasing import box_masks, crop_bounds
from gpunet.registry import register


class _MixingLayer(BaseImageAugmentation):
    def _labels(self, b: Any, labels: Any) -> Any:
        labels = self._as_array(labels, b)
        if labels.ndim != 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) mixes labels of "
                             f"shape (batch, classes) (one-hot or soft labels). Received: "
                             f"labels.shape={tuple(labels.shape)}")
        return labels if labels.dtype.kind == "f" else labels.astype(self.compute_dtype)

    def transform_labels(self, labels: Any, transformation: Any, training: bool = True) -> Any:
        """Labels mixed with the permuted labels: ``w * y + (1 - w) * y[perm]``."""
        b = self._backend_for(labels)
        if not training or transformation is None:
            return self._as_array(labels, b)
        labels = self._labels(b, labels)
        perm = b.asarray(transformation["permutation_order"])
        w = b.asarray(transformation["mix_weight"]).astype(labels.dtype).reshape(-1, 1)
        return w * labels + (1.0 - w) * b.xp.take(labels, perm, axis=0)


@register("layer")
class MixUp(_MixingLayer):
    """MixUp: ``w * x + (1 - w) * x[perm]`` for images and labels alike, ``w`` drawn per image
    from ``Beta(alpha, alpha)`` and ``perm`` a random permutation of the batch.

    Args:
        alpha: positive float, the Beta distribution's parameters (default 0.2; small values
            keep most images nearly intact).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, c)`` images, or a dict with ``"images"`` and ``"labels"`` ``(batch,
        classes)`` (and optionally ``"segmentation_masks"``, mixed like the images).

    Output shape:
        The same structure and shapes (labels as floats).

    Returns:
        The mixed images (or dict); transformation ``{"mix_weight": (batch,),
        "permutation_order": int64 (batch,)}``.

    Example:

    >>> MixUp(alpha=0.4)({"images": images, "labels": one_hot})  # doctest: +SKIP
    """

    def __init__(self, alpha: float = 0.2, data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        if not is_number(alpha) or not alpha > 0:
            raise ValueError(f"MixUp: `alpha` must be a positive number (the Beta "
                             f"distribution's parameter). Received: alpha={alpha!r}")
        self.alpha = alpha

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        images = self._images_of(data)
        n = batch_size_of(self, images)
        rng = self._rng(seed)
        perm = rng.permutation(n).astype(np.int64)
        w = rng.beta(self.alpha, self.alpha, n).astype(np.float32)
        b = self._backend_for(images)
        return {"mix_weight": b.asarray(w), "permutation_order": b.asarray(perm)}

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        dt = self.compute_dtype
        images = images.astype(dt, copy=False)
        w = b.asarray(transformation["mix_weight"]).astype(dt).reshape(-1, 1, 1, 1)
        other = b.xp.take(images, b.asarray(transformation["permutation_order"]), axis=0)
        return w * images + (1.0 - w) * other

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Any:
        """Masks mixed like the images (per image, along the batch axis)."""
        return self.transform_images(segmentation_masks, transformation, training)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


@register("layer")
class CutMix(_MixingLayer):
    """CutMix: pastes a rectangle of another image of the batch into each image, and mixes the
    labels by the pasted area.

    Per batch ``a`` is drawn in the factor range; per image ``w ~ Beta(a, a)``, the
    rectangle is ``sqrt(1 - w)`` of the width and of the height at a uniform position, and
    the label weight is the part of the image left uncovered: labels become ``w' * y + (1 -
    w') * y[perm]``.

    Args:
        factor: float ``f`` in ``[0, 1]`` (``a`` in ``[0, f]``) or a pair; default 1.0.
        seed: optional int seed.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` images, or a dict with ``"images"`` and ``"labels"`` ``(batch,
        classes)`` (and optionally ``"segmentation_masks"``, cut like the images).

    Output shape:
        The same structure and shapes, in the layer's dtype.

    Returns:
        The mixed images (or dict); transformation ``{"permutation_order": int32 (batch,),
        "batch_masks": bool (like the images), "mix_weight": (batch, 1, 1, 1)}``, or
        ``None`` for a single image.

    Example:

    >>> CutMix()({"images": images, "labels": one_hot})  # doctest: +SKIP
    """

    def __init__(self, factor: Any = 1.0, seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.factor = set_factor(factor, (0, 1))

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        if not training:
            return None
        images = self._images_of(data)
        if len(images.shape) == 3:
            batch_size_of(self, images)
            return None
        n = batch_size_of(self, images)
        shape = tuple(images.shape)
        h_ax, w_ax, c_ax = self._hwc_axes()
        height, width = shape[h_ax], shape[w_ax]
        rng = self._rng(seed)
        alpha = float(np.float32(rng.uniform(self.factor[0], self.factor[1]))) + 1e-6
        w = rng.beta(alpha, alpha, n).astype(np.float32)
        ratio = np.sqrt(np.float32(1.0) - w)
        x0, x1 = crop_bounds(rng, n, width, ratio)
        y0, y1 = crop_bounds(rng, n, height, ratio)
        perm = rng.permutation(n).astype(np.int32)
        b = self._backend_for(images)
        masks = box_masks(b.xp, shape, (h_ax, w_ax, c_ax),
                          *(b.asarray(v) for v in (x0, x1, y0, y1)), np.float32)
        weight = (1.0 - (x1 - x0) * (y1 - y0) / np.float32(width * height)).astype(np.float32)
        return {"permutation_order": b.asarray(perm), "batch_masks": masks,
                "mix_weight": b.asarray(weight.reshape(-1, 1, 1, 1))}

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        dt = self.compute_dtype
        images = images.astype(dt, copy=False)
        if not training or transformation is None:
            return images
        other = b.xp.take(images, b.asarray(transformation["permutation_order"]), axis=0)
        return b.xp.where(b.asarray(transformation["batch_masks"]), other, images)

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Any:
        """Masks cut and pasted like the images (the images' rectangles, whatever the masks'
        channel count)."""
        if not training or transformation is None:
            return self.transform_images(segmentation_masks, transformation, training)
        b = self._backend_for(segmentation_masks)
        boxes = b.asarray(transformation["batch_masks"])
        c_ax = self._hwc_axes()[2]
        channels = segmentation_masks.shape[c_ax]
        if boxes.shape[c_ax] != channels:
            boxes = b.xp.take(boxes, b.xp.zeros(channels, dtype=np.int64), axis=c_ax)
        return self.transform_images(segmentation_masks, {**transformation,
                                                          "batch_masks": boxes}, training)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
