"""VGG16, as ``keras.applications.VGG16``: the same layers, names and weights.

Reference: [Very Deep Convolutional Networks for Large-Scale Image Recognition](
https://arxiv.org/abs/1409.1556).
"""

from __future__ import annotations

from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.applications.resnet import decode_predictions, preprocess_input
from gpunet.models import Model

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
WEIGHTS_PATH = _BASE + "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _BASE + "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")
_BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]


def VGG16(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg16") -> Model:
    """Instantiates the VGG16 architecture.

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

    >>> model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.output_shape
    (None, 1, 1, 512)
    """
    return build_vgg("VGG16", _BLOCKS, (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP), _HASHES,
                     include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)


def build_vgg(family: str, blocks: list, urls: tuple, hashes: tuple, include_top: bool,
              weights: Any, input_tensor: Any, input_shape: tuple | None, pooling: str | None,
              classes: int, classifier_activation: Any, name: str) -> Model:
    """The VGG network shared by VGG16 and VGG19: ``blocks`` lists ``(filters, convs)``."""
    B.check_weights(family, weights, include_top, classes)
    B.check_pooling(family, pooling)
    img_input, _ = B.image_input(family, input_shape, input_tensor, 224, include_top, weights)
    x = img_input
    for block, (filters, convs) in enumerate(blocks, start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = B.classifier_or_pool(x, False, pooling, classes, None, None, pool_names=False)
    url = urls[0] if include_top else urls[1]
    return B.finish(family, img_input, input_tensor, x, name, weights,
                    (url.rsplit("/", 1)[1], url, hashes[0 if include_top else 1]))
