"""RandomCrop: one random crop location per batch during training, as Keras 3."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import random as grandom
from gpunet.layers.preprocessing._base import RandomStream, check_positive_int, raw
from gpunet.layers.preprocessing.image_basic import _ImageLayer, resize_images
from gpunet.registry import register


@register("layer")
class RandomCrop(_ImageLayer):
    """Randomly crops images to ``(height, width)`` during training (Keras 3.15 semantics).

    With ``training=True`` (also the default when the layer is called directly, as in Keras),
    one crop location is drawn for the whole batch, uniformly among the positions where the
    ``height x width`` window fits. If the image is not larger than the target in both
    dimensions, the window starts at the centred corner of the largest box of the target aspect
    ratio instead, and the ``height x width`` slice taken from there is resized (bilinear) to
    the target size when it comes out smaller. The result is cast to the layer's dtype.

    With ``training=False`` (``predict``, ``evaluate``) Keras 3.15 returns the images
    unchanged, at their input size; this layer does the same.

    Args:
        height: int, the height of the output.
        width: int, the width of the output.
        seed: optional int seed of the layer's own random stream (without one, a seed is
            drawn from the generator that ``gpunet.utils.set_random_seed`` seeds and kept in
            the config, as Keras does).
        data_format: ``"channels_last"`` (default, from the configuration) or
            ``"channels_first"``.
        **kwargs: base layer arguments (``name``, ``dtype``).

    Input shape:
        3D (unbatched) or 4D (batched) images ``(..., height, width, channels)`` in
        ``channels_last`` format (``(..., channels, height, width)`` in ``channels_first``).

    Output shape:
        ``(..., target_height, target_width, channels)`` in training.

    Returns:
        The cropped images.

    Example:

    >>> RandomCrop(24, 24, seed=1)(np.zeros((8, 32, 32, 3), "float32")).shape
    (8, 24, 24, 3)
    """

    def __init__(self, height: int, width: int, seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, **kwargs)
        self.height = check_positive_int("RandomCrop", "height", height)
        self.width = check_positive_int("RandomCrop", "width", width)
        if seed is None:
            seed = int(grandom.host_rng().integers(1, 10**9))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"RandomCrop: `seed` must be an int or None. Received: "
                             f"seed={seed!r}")
        self.seed = int(seed)
        self._stream = RandomStream(self.seed)

    def _starts(self, h: int, w: int, training: bool) -> tuple:
        if training and h > self.height and w > self.width:
            top = int(self._stream.uniform(0.0, float(h - self.height + 1), 1)[0])
            left = int(self._stream.uniform(0.0, float(w - self.width + 1), 1)[0])
            return min(top, h - self.height), min(left, w - self.width)
        crop_h = max(min(h, int(float(w * self.height) / self.width)), 1)
        crop_w = max(min(w, int(float(h * self.width) / self.height)), 1)
        return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training is None:
            training = True  # Keras's image layers default to training=True in call
        if not training:
            return inputs
        self._check_rank(inputs)
        r, c = self._hw_axes(inputs.ndim)
        h, w = int(inputs.shape[r]), int(inputs.shape[c])
        top, left = self._starts(h, w, True)
        key = [slice(None)] * inputs.ndim
        key[r], key[c] = slice(top, top + self.height), slice(left, left + self.width)
        x = inputs if inputs.dtype == np.dtype(self.dtype) else ops.cast(inputs, self.dtype)
        y = ops.getitem(x, tuple(key))
        if y.shape[r] == self.height and y.shape[c] == self.width:
            return y
        a = raw(y)
        single = a.ndim == 3
        a = a[None] if single else a
        if self.data_format == "channels_first":
            a = a.transpose(0, 2, 3, 1)
        out = resize_images(a, self.height, self.width, "bilinear")
        if self.data_format == "channels_first":
            out = out.transpose(0, 3, 1, 2)
        out = out[0] if single else out
        return Tensor(out.astype(self.dtype, copy=False))

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}
