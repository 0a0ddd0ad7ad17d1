"""MobileNet (v1), as ``keras.applications.MobileNet``: the same layers, names and weights.

Reference: [MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications](https://arxiv.org/abs/1704.04861).
"""

from __future__ import annotations

import warnings
from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.backend.config import image_data_format
from gpunet.models import Model

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
# (pointwise filters, stride) of the 13 depthwise-separable blocks
_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
    (1024, 2), (1024, 1)]


def MobileNet(input_shape: tuple | None = None, alpha: float = 1.0, depth_multiplier: int = 1,
              dropout: float = 1e-3, include_top: bool = True, weights: Any = "imagenet",
              input_tensor: Any = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax", name: str | None = None) -> Model:
    """Instantiates the MobileNet architecture.

    Args:
        input_shape: optional shape without the batch axis, e.g. ``(224, 224, 3)``; at least
            32x32. Ignored when ``input_tensor`` is given.
        alpha: width multiplier: scales the number of filters of every layer.
        depth_multiplier: depth multiplier of the depthwise convolutions.
        dropout: dropout rate before the classifier.
        include_top: whether to include the classifier (a 1x1 convolution ``conv_preds``).
        weights: ``None`` (random), ``"imagenet"`` or the path of a weights file saved by
            Keras or gpunet.
        input_tensor: optional KerasTensor (from ``Input()``) to use as the image input.
        pooling: without the top: ``None`` (4-D output), ``"avg"`` or ``"max"`` (global).
        classes: number of classes (with the top).
        classifier_activation: activation of the top (``None`` gives logits).
        name: model name (default ``mobilenet_<alpha>_<rows>``).

    Input shape:
        ``(batch, rows, cols, 3)`` (channels_last), values from ``preprocess_input``.

    Output shape:
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 1024*alpha)``
        or ``(batch, 1024*alpha)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = MobileNet(weights=None, alpha=0.25, input_shape=(32, 32, 3), classes=10)
    >>> model.output_shape
    (None, 10)
    """
    B.check_weights("MobileNet", weights, include_top, classes)
    B.check_pooling("MobileNet", pooling)
    default_size = 224
    if input_shape is not None:
        rows, cols = input_shape[1:3] if image_data_format() == "channels_first" \
            else input_shape[:2]
        if rows == cols and rows in (128, 160, 192, 224):
            default_size = rows
    img_input, shape = B.image_input("MobileNet", input_shape, input_tensor, default_size,
                                     include_top, weights)
    first = 2 if image_data_format() == "channels_first" else 1
    rows, cols = shape[first - 1:first + 1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("MobileNet: if imagenet weights are being loaded, depth "
                             f"multiplier must be 1. Received depth_multiplier={depth_multiplier}")
        if alpha not in (0.25, 0.50, 0.75, 1.0):
            raise ValueError("MobileNet: if imagenet weights are being loaded, alpha can be "
                             f"one of 0.25, 0.50, 0.75 or 1.0 only. Received alpha={alpha}")
        if rows != cols or rows not in (128, 160, 192, 224):
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[128, 160, 192, 224]. Weights for input shape (224, 224) will be "
                          "loaded as the default.", stacklevel=2)
    axis = B.channel_axis()
    x = layers.Conv2D(int(32 * alpha), 3, padding="same", use_bias=False, strides=2,
                      name="conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, int(filters * alpha), depth_multiplier, stride, block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = B.classifier_or_pool(x, False, pooling, classes, None, None, pool_names=False)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(alpha, "2_5")
    fname = f"mobilenet_{alpha_text}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    return B.finish("MobileNet", img_input, input_tensor, x, name, weights,
                    (fname, BASE_WEIGHT_PATH + fname, None))


def _depthwise_conv_block(x: Any, filters: int, depth_multiplier: int, stride: int,
                          block_id: int) -> Any:
    axis = B.channel_axis()
    if stride != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(3, padding="same" if stride == 1 else "valid",
                               depth_multiplier=depth_multiplier, strides=stride,
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scales pixels from [0, 255] to [-1, 1] (``imagenet_utils.preprocess_input`` mode
    "tf")."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5, class_index: Any = None) -> list:
    """``imagenet_utils.decode_predictions``: the top ImageNet classes of each sample."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index=class_index)
