"""Base of Keras 3's newer image augmentation layers (``BaseImagePreprocessingLayer``).

Each layer splits its work as Keras does: ``get_random_transformation(data, training, seed)``
draws the random parameters of one batch (a dict of arrays with Keras's keys, or ``None``)
and ``transform_images(images, transformation, training)`` applies them deterministically,
so a transformation drawn elsewhere (by Keras, say) can be replayed. ``call`` accepts a batch
``(batch, h, w, c)``, a single image ``(h, w, c)`` or a dict with ``"images"`` and optionally
``"labels"`` / ``"segmentation_masks"`` (returned transformed, other keys passed through), as
Keras does. ``training`` defaults to ``True`` when the layer is called directly (Keras's
``call(data, training=True)``); ``fit`` passes ``True`` and ``predict``/``evaluate`` pass
``False``.

Random parameters are drawn on the host, from the layer's own stream when it has a ``seed``
(the same draws run after run) or from the generator ``gpunet.utils.set_random_seed`` seeds;
they are copied to the images' device once per batch and the images are transformed there
(``xp``). The streams are not Keras's, so the draws differ from Keras's; their distributions
are Keras's. Gradients do not cross these layers.

Where gpunet differs from Keras 3.15 on purpose: ``AutoContrast`` with ``channels_first``
stretches each channel over its height and width (Keras reduces over axes 1 and 2 whatever
the format); ``MixUp`` mixes segmentation masks image by image (Keras's ``take`` flattens
them) and both mixing layers refuse labels that are not ``(batch, classes)`` (Keras broadcasts
them into a wrong shape); ``MixUp(alpha<=0)`` and a malformed ``RandomErasing(fill_value=...)``
raise when the layer is made rather than giving NaNs or failing at the first call;
``RandomGrayscale``'s config keeps its ``seed``; dicts with ``"bounding_boxes"`` are refused
(no ``bounding_box_format``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, get_backend, image_data_format
from gpunet.layers.preprocessing._base import PreprocessingLayer, RandomStream, check_choice

VALUE_RANGE_ERROR = "The `value_range` argument should be a list of two numbers. "


def is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def set_factor(factor: Any, bounds: tuple, name: str = "factor") -> tuple:
    """Keras's ``BaseImagePreprocessingLayer._set_factor``: a number ``f`` in ``bounds`` gives
    ``(max(-|f|, bounds[0]), |f|)``; a pair is sorted (only loosely checked, as Keras does)."""
    msg = (f"The `{name}` argument should be a number (or a list of two numbers) in the range "
           f"[{bounds[0]}, {bounds[1]}]. Received: factor={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(is_number(f) for f in factor):
            raise ValueError(msg)
        if factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(msg)
        lower, upper = sorted(factor)
    elif is_number(factor):
        if factor < bounds[0] or factor > bounds[1]:
            raise ValueError(msg)
        factor = abs(factor)
        lower, upper = max(-factor, bounds[0]), factor
    else:
        raise ValueError(msg)
    return lower, upper


def check_value_range(value_range: Any, keep: bool = False) -> Any:
    """A ``(low, high)`` pair of numbers: Keras's sorted list, or (``keep``) the value as
    given, for the layers whose config keeps it so."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 \
            or not all(is_number(v) for v in value_range):
        raise ValueError(VALUE_RANGE_ERROR + f"Received: value_range={value_range}")
    return value_range if keep else sorted(value_range)


def to_range(xp: Any, images: Any, original: Any, target: Any, dtype: Any) -> Any:
    """Keras's ``_transform_value_range``: maps ``original`` linearly onto ``target``."""
    if original[0] == target[0] and original[1] == target[1]:
        return images
    images = images.astype(dtype, copy=False)
    cast = np.dtype(dtype).type  # scalars, not 0-d host arrays (CuPy refuses those)
    lo, hi, t_lo, t_hi = (cast(v) for v in (original[0], original[1], target[0], target[1]))
    return (images - lo) / (hi - lo) * (t_hi - t_lo) + t_lo


def batch_size_of(layer: Any, images: Any) -> int:
    """1 for a single image, the batch size for a batch; other ranks raise naming the layer."""
    shape = tuple(images.shape)
    if len(shape) == 3:
        return 1
    if len(shape) == 4:
        return int(shape[0])
    raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects images of rank 3 "
                     f"(single image) or 4 (batch of images). Received: inputs.shape={shape}")


class BaseImageAugmentation(PreprocessingLayer):
    """Shared by the Keras 3.15 colour, erasing and mixing augmentation layers: data format,
    seed, the dict/bare-image ``call`` and the host random draws."""

    def __init__(self, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.data_format = check_choice(cls, "data_format", data_format or image_data_format(),
                                        ("channels_last", "channels_first"))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{cls}: `seed` must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._stream = RandomStream(self.seed)

    # -- the Keras API ---------------------------------------------------------------------
    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        """The random parameters for one batch (``None``: the layer draws none)."""
        return None

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        """``images`` (a batch) transformed by ``transformation``; a backend array."""
        raise NotImplementedError

    def transform_labels(self, labels: Any, transformation: Any, training: bool = True) -> Any:
        """Labels are unchanged by the colour and erasing layers."""
        return labels

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Any:
        """Segmentation masks are unchanged by the colour and erasing layers."""
        return segmentation_masks

    def call(self, data: Any, training: bool | None = True) -> Any:
        """Draws a transformation (in training) and applies it.

        Args:
            data: images ``(batch, h, w, c)`` / ``(h, w, c)``, or a dict with ``"images"``
                and optionally ``"labels"`` and ``"segmentation_masks"``.
            training: ``None`` counts as ``True`` (Keras's default for these layers).

        Returns:
            The transformed images (a Tensor), or a new dict with the transformed entries
            and the other entries as they came.
        """
        training = True if training is None else bool(training)
        if isinstance(data, dict):
            return self._call_dict(data, training)
        images = self._as_array(data, None)
        batch_size_of(self, images)
        single = images.ndim == 3
        t = self.get_random_transformation(images, training=training) if training else None
        out = self.transform_images(images[None] if single else images, t, training=training)
        return Tensor(out[0] if single else out)

    def _call_dict(self, data: dict, training: bool) -> dict:
        if "images" not in data:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) takes a dict with an "
                             f"'images' key. Received keys: {sorted(data)}")
        if "bounding_boxes" in data:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): gpunet's image "
                             "layers do not transform 'bounding_boxes' (no "
                             "`bounding_box_format`); remove that key.")
        out = dict(data)
        images = self._as_array(data["images"], None)
        b = backend_of(images)
        batch_size_of(self, images)
        single = images.ndim == 3
        out["images"] = images
        t = self.get_random_transformation(out, training=training) if training else None
        out["images"] = Tensor(self._unbatch(self.transform_images(
            images[None] if single else images, t, training=training), single))
        if "labels" in data:
            labels = self._as_array(data["labels"], b)
            out["labels"] = Tensor(self._unbatch(self.transform_labels(
                labels[None] if single else labels, t, training=training), single))
        if "segmentation_masks" in data:
            masks = self._as_array(data["segmentation_masks"], b)
            out["segmentation_masks"] = Tensor(self._unbatch(self.transform_segmentation_masks(
                masks[None] if single else masks, t, training=training), single))
        return out

    @staticmethod
    def _unbatch(x: Any, single: bool) -> Any:
        return x[0] if single else x

    # -- helpers for the subclasses ------------------------------------------------------------
    @staticmethod
    def _backend_for(x: Any) -> Any:
        """The backend of ``x``'s data: its own for a Tensor or device array, the current
        device's for host data (where ``Layer.__call__`` would put it)."""
        if isinstance(x, Tensor):
            return backend_of(x.data)
        return backend_of(x) if hasattr(x, "__cuda_array_interface__") else get_backend()

    @classmethod
    def _as_array(cls, x: Any, b: Any) -> Any:
        """``x`` as an array of backend ``b`` (default: ``_backend_for(x)``)."""
        b = cls._backend_for(x) if b is None else b
        return b.asarray(x.data if isinstance(x, Tensor) else x)

    def _prepare(self, images: Any) -> tuple:
        """(backend, images as a backend array) for ``transform_images``."""
        images = self._as_array(images, None)
        return backend_of(images), images

    @staticmethod
    def _images_of(data: Any) -> Any:
        return data["images"] if isinstance(data, dict) else data

    def _rng(self, seed: Any = None) -> np.random.Generator:
        """A host generator for one draw: from ``seed`` when given, else from the layer's
        stream (its own with a ``seed``, else the global host generator)."""
        if seed is not None:
            return np.random.default_rng(int(seed))
        return np.random.default_rng(int(self._stream.uniform(0.0, 1.0, 1)[0] * 2.0**53))

    def _hwc_axes(self) -> tuple:
        """(height, width, channel) axes of a batch in this layer's data format."""
        return (1, 2, 3) if self.data_format == "channels_last" else (2, 3, 1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}
