"""MobileNetV2, as ``keras.applications.MobileNetV2``: the same layers, names and weights.

Reference: [MobileNetV2: Inverted Residuals and Linear Bottlenecks](
https://arxiv.org/abs/1801.04381).
"""

from __future__ import annotations

import warnings
from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.applications.mobilenet import decode_predictions, preprocess_input
from gpunet.backend.config import image_data_format
from gpunet.models import Model

__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
# (filters, stride, expansion) of the 17 inverted residual blocks
_BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
           (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]
_SIZES = (96, 128, 160, 192, 224)


def MobileNetV2(input_shape: tuple | None = None, alpha: float = 1.0, include_top: bool = True,
                weights: Any = "imagenet", input_tensor: Any = None, pooling: str | None = None,
                classes: int = 1000, classifier_activation: Any = "softmax",
                name: str | None = None) -> Model:
    """Instantiates the MobileNetV2 architecture.

    Args:
        input_shape: optional shape without the batch axis, e.g. ``(224, 224, 3)``; at least
            32x32. Ignored when ``input_tensor`` is given.
        alpha: width multiplier: scales the number of filters of every layer.
        include_top: whether to include the ``Dense`` classifier ``predictions``.
        weights: ``None`` (random), ``"imagenet"`` or the path of a weights file saved by
            Keras or gpunet.
        input_tensor: optional KerasTensor (from ``Input()``) to use as the image input.
        pooling: without the top: ``None`` (4-D output), ``"avg"`` or ``"max"`` (global).
        classes: number of classes (with the top).
        classifier_activation: activation of the top (``None`` gives logits).
        name: model name (default ``mobilenetv2_<alpha>_<rows>``).

    Input shape:
        ``(batch, rows, cols, 3)`` (channels_last), values from ``preprocess_input``.

    Output shape:
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 1280)`` (more
        for ``alpha > 1``) or ``(batch, 1280)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=10)
    >>> model.output_shape
    (None, 10)
    """
    B.check_weights("MobileNetV2", weights, include_top, classes)
    B.check_pooling("MobileNetV2", pooling)
    first = 2 if image_data_format() == "channels_first" else 1
    shape = input_shape
    if shape is None and input_tensor is not None and hasattr(input_tensor, "shape"):
        shape = tuple(input_tensor.shape[1:])
    default_size = 224
    if shape is not None:
        rows, cols = shape[first - 1:first + 1]
        if rows == cols and rows in _SIZES:
            default_size = rows
    img_input, shape = B.image_input("MobileNetV2", input_shape, input_tensor, default_size,
                                     include_top, weights)
    rows, cols = shape[first - 1:first + 1]
    if weights == "imagenet":
        if alpha not in (0.35, 0.50, 0.75, 1.0, 1.3, 1.4):
            raise ValueError("MobileNetV2: if imagenet weights are being loaded, alpha must be "
                             "one of 0.35, 0.50, 0.75, 1.0, 1.3 or 1.4 only; Received "
                             f"alpha={alpha}")
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[96, 128, 160, 192, 224]. Weights for input shape (224, 224) will "
                          "be loaded as the default.", stacklevel=2)
    axis = B.channel_axis()
    bn = dict(axis=axis, epsilon=1e-3, momentum=0.999)
    x = layers.Conv2D(_make_divisible(32 * alpha, 8), 3, strides=2, padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(name="bn_Conv1", **bn)(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(name="Conv_1_bn", **bn)(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = B.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights,
                             pool_names=False)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
             f"{'' if include_top else '_no_top'}.h5")
    return B.finish("MobileNetV2", img_input, input_tensor, x, name, weights,
                    (fname, BASE_WEIGHT_PATH + fname, None))


def _inverted_res_block(inputs: Any, expansion: int, stride: int, alpha: float, filters: int,
                        block_id: int) -> Any:
    axis = B.channel_axis()
    bn = dict(axis=axis, epsilon=1e-3, momentum=0.999)
    in_channels = inputs.shape[axis]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(name=f"{prefix}expand_BN", **bn)(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(name=f"{prefix}depthwise_BN", **bn)(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, 1, padding="same", use_bias=False,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(name=f"{prefix}project_BN", **bn)(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor``, never 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v
