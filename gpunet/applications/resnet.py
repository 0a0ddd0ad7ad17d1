"""ResNet50 (v1), as ``keras.applications.ResNet50``: the same layers, names and weights.

Reference: [Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385).
"""

from __future__ import annotations

from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.models import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {"resnet50": ("2cb95161c43110f7111970584f804107",
                               "4d473c1dd8becc155b73f8504c6f6626")}
_BN = dict(epsilon=1.001e-5)


def ResNet50(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
             input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "resnet50") -> Model:
    """Instantiates the ResNet50 architecture.

    Args:
        include_top: whether to include the ``Dense`` classifier ``predictions``.
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
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 2048)`` or
        ``(batch, 2048)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    >>> model.output_shape
    (None, 2, 2, 2048)
    """
    B.check_weights("ResNet50", weights, include_top, classes)
    B.check_pooling("ResNet50", pooling)
    img_input, _ = B.image_input("ResNet50", input_shape, input_tensor, 224, include_top, weights)
    axis = B.channel_axis()
    x = layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=axis, name="conv1_bn", **_BN)(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks, stride) in enumerate(
            [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=2):
        x = stack_residual_blocks_v1(x, filters, blocks, stride1=stride, name=f"conv{stage}")
    x = B.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights)
    fname = f"resnet50_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return B.finish("ResNet50", img_input, input_tensor, x, name, weights,
                    (fname, BASE_WEIGHTS_PATH + fname,
                     WEIGHTS_HASHES["resnet50"][0 if include_top else 1]))


def residual_block_v1(x: Any, filters: int, kernel_size: int = 3, stride: int = 1,
                      conv_shortcut: bool = True, name: str = "") -> Any:
    """A bottleneck block: 1x1, kxk, 1x1 (4x filters) convolutions plus the shortcut."""
    axis = B.channel_axis()
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=axis, name=f"{name}_0_bn", **_BN)(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}_1_bn", **_BN)(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}_2_bn", **_BN)(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}_3_bn", **_BN)(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x: Any, filters: int, blocks: int, stride1: int = 2,
                             name: str = "") -> Any:
    """``blocks`` residual blocks, the first with a projection shortcut and ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """RGB to BGR, then minus the ImageNet channel means (``imagenet_utils.preprocess_input``
    mode "caffe")."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds: Any, top: int = 5, class_index: Any = None) -> list:
    """``imagenet_utils.decode_predictions``: the top ImageNet classes of each sample."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index=class_index)
