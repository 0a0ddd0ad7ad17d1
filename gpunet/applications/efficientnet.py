"""EfficientNetB0, as ``keras.applications.EfficientNetB0``: the same layers, names and
weights.

Reference: [EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks](
https://arxiv.org/abs/1905.11946).
"""

from __future__ import annotations

import math
from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.models import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
WEIGHTS_HASHES = {"b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d")}
# (kernel size, repeats, filters in, filters out, expand ratio, strides); all blocks use
# id_skip=True and se_ratio=0.25
DEFAULT_BLOCKS_ARGS = [(3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
                       (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
                       (3, 1, 192, 320, 6, 1)]
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling", "config": {
    "scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling", "config": {
    "scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def EfficientNetB0(include_top: bool = True, weights: Any = "imagenet",
                   input_tensor: Any = None, input_shape: tuple | None = None,
                   pooling: str | None = None, classes: int = 1000,
                   classifier_activation: Any = "softmax", name: str = "efficientnetb0") -> Model:
    """Instantiates the EfficientNetB0 architecture.

    The model rescales its input itself (``Rescaling(1/255)`` and a ``Normalization``
    layer), so it takes pixels in [0, 255]; ``preprocess_input`` is the identity.

    Args:
        include_top: whether to include the ``Dense`` classifier ``predictions`` (after
            ``avg_pool`` and ``top_dropout``).
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
        ``(batch, rows, cols, 3)`` (channels_last), pixels in [0, 255].

    Output shape:
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 1280)`` or
        ``(batch, 1280)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = EfficientNetB0(weights=None, include_top=False, input_shape=(64, 64, 3))
    >>> model.output_shape
    (None, 2, 2, 1280)
    """
    return EfficientNet(1.0, 1.0, 224, 0.2, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation,
                        weights_name="b0")


def EfficientNet(width_coefficient: float, depth_coefficient: float, default_size: int,
                 dropout_rate: float = 0.2, drop_connect_rate: float = 0.2,
                 depth_divisor: int = 8, activation: Any = "swish",
                 blocks_args: Any = "default", name: str = "efficientnet",
                 include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                 input_shape: tuple | None = None, pooling: str | None = None,
                 classes: int = 1000, classifier_activation: Any = "softmax",
                 weights_name: str | None = None) -> Model:
    """An EfficientNet scaled by ``width_coefficient`` and ``depth_coefficient`` (see
    ``EfficientNetB0``); ``blocks_args``: tuples as ``DEFAULT_BLOCKS_ARGS``."""
    blocks_args = DEFAULT_BLOCKS_ARGS if blocks_args == "default" else blocks_args
    B.check_weights("EfficientNet", weights, include_top, classes)
    B.check_pooling("EfficientNet", pooling)
    img_input, _ = B.image_input("EfficientNet", input_shape, input_tensor, default_size,
                              include_top, weights)
    axis = B.channel_axis()

    def round_filters(filters: float) -> int:
        filters *= width_coefficient
        new = max(depth_divisor, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
        return int(new + depth_divisor if new < 0.9 * filters else new)

    def round_repeats(repeats: int) -> int:
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=axis)(x)
    if weights == "imagenet":
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=axis, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    b, total = 0, float(sum(round_repeats(a[1]) for a in blocks_args))
    for i, (kernel, repeats, f_in, f_out, expand, strides) in enumerate(blocks_args):
        if repeats <= 0:
            raise ValueError("The number of repeats in `EfficientNet` must be > 0. "
                             f"Received: repeats={repeats}")
        f_in, f_out = round_filters(f_in), round_filters(f_out)
        for j in range(round_repeats(repeats)):
            x = block(x, activation, drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_",
                      f_in if j == 0 else f_out, f_out, kernel, strides if j == 0 else 1, expand)
            b += 1
    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=axis, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    x = B.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights,
                             dense_kwargs={"kernel_initializer": DENSE_KERNEL_INITIALIZER},
                             dropout=dropout_rate)
    imagenet_file = None
    if weights_name in WEIGHTS_HASHES:
        fname = name + (".h5" if include_top else "_notop.h5")
        imagenet_file = (fname, BASE_WEIGHTS_PATH + fname,
                         WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return B.finish("EfficientNet", img_input, input_tensor, x, name, weights, imagenet_file)


def block(inputs: Any, activation: Any = "swish", drop_rate: float = 0.0, name: str = "",
          filters_in: int = 32, filters_out: int = 16, kernel_size: int = 3, strides: int = 1,
          expand_ratio: int = 1, se_ratio: float = 0.25, id_skip: bool = True) -> Any:
    """An inverted residual block: expansion, depthwise convolution, squeeze-and-excitation,
    projection, and the (drop-connect) skip connection."""
    axis = B.channel_axis()
    init = {"kernel_initializer": CONV_KERNEL_INITIALIZER}
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}expand_conv",
                          **init)(x)
        x = layers.BatchNormalization(axis=axis, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"{name}dwconv_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=strides,
                               padding="valid" if strides == 2 else "same", use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER,
                               name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se_shape = (filters, 1, 1) if axis == 1 else (1, 1, filters)
        se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
        se = layers.Conv2D(max(1, int(filters_in * se_ratio)), 1, padding="same",
                           activation=activation, name=f"{name}se_reduce", **init)(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                           name=f"{name}se_expand", **init)(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      name=f"{name}project_conv", **init)(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity, as in Keras: EfficientNet models rescale their input themselves.

    Args:
        x: images with values in [0, 255].
        data_format: unused, for API compatibility.

    Returns:
        ``x`` unchanged.
    """
    return x


def decode_predictions(preds: Any, top: int = 5, class_index: Any = None) -> list:
    """``imagenet_utils.decode_predictions``: the top ImageNet classes of each sample."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index=class_index)
