"""DenseNet121, as ``keras.applications.DenseNet121``: the same layers, names and weights.

Reference: [Densely Connected Convolutional Networks](https://arxiv.org/abs/1608.06993).
"""

from __future__ import annotations

from typing import Any

from gpunet import layers
from gpunet.applications import _builder as B
from gpunet.applications import imagenet_utils
from gpunet.backend.config import image_data_format
from gpunet.models import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_FILES = {(6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                            "30ee3e1110167f948a6b9946edeeb738")}
_BN = dict(epsilon=1.001e-5)


def DenseNet121(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None,
                classes: int = 1000, classifier_activation: Any = "softmax",
                name: str = "densenet121") -> Model:
    """Instantiates the DenseNet121 architecture (channels_last only, as in Keras).

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
        ``(batch, rows, cols, 3)``, values from ``preprocess_input`` (mode "torch").

    Output shape:
        ``(batch, classes)`` with the top, else ``(batch, rows/32, cols/32, 1024)`` or
        ``(batch, 1024)`` with pooling.

    Returns:
        A ``Model``.

    Example:

    >>> model = DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3),
    ...                     pooling="avg")
    >>> model.output_shape
    (None, 1024)
    """
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name=name)


def DenseNet(blocks: list, include_top: bool = True, weights: Any = "imagenet",
             input_tensor: Any = None, input_shape: tuple | None = None,
             pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "densenet") -> Model:
    """A DenseNet with ``blocks`` conv blocks in its four dense blocks (see
    ``DenseNet121``)."""
    if image_data_format() == "channels_first":
        raise ValueError("DenseNet does not support the `channels_first` image data format. "
                         "Switch to `channels_last` with "
                         "`gpunet.backend.set_image_data_format('channels_last')`.")
    B.check_weights("DenseNet", weights, include_top, classes)
    B.check_pooling("DenseNet", pooling)
    img_input, _ = B.image_input("DenseNet", input_shape, input_tensor, 224, include_top, weights)
    x = layers.ZeroPadding2D(((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, name="conv1_bn", **_BN)(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, n in enumerate(blocks, start=2):
        x = dense_block(x, n, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=3, name="bn", **_BN)(x)
    x = layers.Activation("relu", name="relu")(x)
    x = B.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights)
    files = _FILES.get(tuple(blocks))
    imagenet_file = None
    if files is not None:
        fname = (f"{files[0]}_weights_tf_dim_ordering_tf_kernels"
                 f"{'' if include_top else '_notop'}.h5")
        imagenet_file = (fname, BASE_WEIGHTS_PATH + fname, files[1 if include_top else 2])
    return B.finish("DenseNet", img_input, input_tensor, x, name, weights, imagenet_file)


def dense_block(x: Any, blocks: int, name: str) -> Any:
    """``blocks`` conv blocks, each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x: Any, reduction: float, name: str) -> Any:
    """BN, ReLU, a 1x1 convolution to ``reduction`` times the channels, 2x2 average pool."""
    x = layers.BatchNormalization(axis=3, name=f"{name}_bn", **_BN)(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x: Any, growth_rate: int, name: str) -> Any:
    """BN-ReLU-1x1 conv, BN-ReLU-3x3 conv (``growth_rate`` filters), concatenated to ``x``."""
    x1 = layers.BatchNormalization(axis=3, name=f"{name}_0_bn", **_BN)(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=3, name=f"{name}_1_bn", **_BN)(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scales pixels to [0, 1], then normalises each channel with the ImageNet means and
    standard deviations (``imagenet_utils.preprocess_input`` mode "torch")."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds: Any, top: int = 5, class_index: Any = None) -> list:
    """``imagenet_utils.decode_predictions``: the top ImageNet classes of each sample."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index=class_index)
