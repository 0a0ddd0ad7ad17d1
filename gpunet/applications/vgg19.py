"""VGG19, as ``keras.applications.VGG19``: the same layers, names and weights.

Reference: [Very Deep Convolutional Networks for Large-Scale Image Recognition](
https://arxiv.org/abs/1409.1556).
"""

from __future__ import annotations

from typing import Any

from gpunet.applications.resnet import decode_predictions, preprocess_input
from gpunet.applications.vgg16 import build_vgg
from gpunet.models import Model

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
WEIGHTS_PATH = _BASE + "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _BASE + "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")
_BLOCKS = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]


def VGG19(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg19") -> Model:
    """Instantiates the VGG19 architecture (16 convolutions in 5 blocks, then 3 dense layers).

    Args:
        include_top: whether to include the 3 fully-connected layers (``fc1``, ``fc2``,
            ``predictions``) after ``flatten``.
        weights: ``None`` (random), ``"imagenet"`` or the path of a weights file saved by
            Keras or gpunet.
        input_tensor: optional KerasTensor (from ``Input()``) to use as the image input.
        input_shape: optional shape without the batch axis, e.g. ``(224, 224, 3)``; at least
            32x32. Ignored when ``input_tensor`` is given.
        pooling: without the top: ``None`` (4-D output), ``"avg"`` or ``"max"`` (global).
        classes: number of classes (with the top).
        classifier_activation: activation of the top (``None`` gives logits).
        name: model name.

    Input shape:
        ``(batch, rows, cols, 3)`` (channels_last), values from ``preprocess_input``
        (mode "caffe").

    Output shape:
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 512)`` or
        ``(batch, 512)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.output_shape
    (None, 1, 1, 512)
    """
    return build_vgg("VGG19", _BLOCKS, (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP), _HASHES,
                     include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)
