"""What every application shares: argument checks, the input, the top, the weights.

Keras's ``keras/src/applications/*.py`` repeat these steps in each family; here they are
written once. ``weights`` is ``None``, ``"imagenet"`` (fetched from Keras's storage when
reachable, or found in ``$GPUNET_DATA_DIR`` / the gpunet and Keras caches) or the path of a
weights file saved by Keras or gpunet (``.h5``, ``.weights.h5``, ``.keras``).
"""

from __future__ import annotations

import os
from typing import Any

from gpunet import layers
from gpunet.applications.imagenet_utils import obtain_input_shape, validate_activation
from gpunet.backend.config import image_data_format
from gpunet.layers.node import KerasTensor
from gpunet.models import Model


def check_weights(model: str, weights: Any, include_top: bool, classes: int) -> None:
    """Raises as Keras does for a ``weights``/``classes`` combination that cannot work."""
    if not (weights is None or (isinstance(weights, str) and weights == "imagenet")
            or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            f"{model}: the `weights` argument should be either `None` (random "
            "initialization), 'imagenet' (pre-training on ImageNet), or the path to the "
            f"weights file to be loaded. Received: weights={weights!r} (no such file)")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"{model}: if using `weights='imagenet'` with `include_top=True`, "
                         f"`classes` should be 1000. Received: classes={classes}")


def check_pooling(model: str, pooling: str | None) -> None:
    """``pooling`` must be None, "avg" or "max" (Keras silently ignores other values; a
    mistyped value here would silently give the unpooled 4-D output, so it raises)."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{model}: `pooling` must be None, 'avg' or 'max'. "
                         f"Received: pooling={pooling!r}")


def image_input(model: str, input_shape: Any, input_tensor: Any, default_size: int,
                include_top: bool, weights: Any, min_size: int = 32) -> tuple:
    """``(image input, input shape)``: the input is ``input_tensor`` when given (a
    KerasTensor), else a new ``Input``; the shape is the one ``obtain_input_shape`` settles
    on from ``input_shape`` (checked even beside ``input_tensor``, and used for the model's
    name and weight file, as in Keras)."""
    shape = obtain_input_shape(input_shape, default_size=default_size, min_size=min_size,
                               data_format=image_data_format(), require_flatten=include_top,
                               weights=weights)
    if input_tensor is None:
        return layers.Input(shape=shape), shape
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError(
            f"{model}: `input_tensor` must be a symbolic tensor made by "
            "`gpunet.layers.Input()` or a layer call on one. Received: "
            f"{type(input_tensor).__name__}. Wrap data in `Input(shape=...)` instead.")
    return input_tensor, shape


def source_inputs(tensor: KerasTensor) -> list:
    """The ``Input`` tensors that ``tensor`` was computed from (Keras's
    ``get_source_inputs``)."""
    out, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        node = t.node
        if node.is_input:
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        else:
            stack.extend(reversed(node.input_tensors))
    return out


def classifier_or_pool(x: KerasTensor, include_top: bool, pooling: str | None, classes: int,
                       classifier_activation: Any, weights: Any, pool_names: bool = True,
                       dense_kwargs: dict | None = None, dropout: float = 0.0) -> KerasTensor:
    """The common head: global average pooling + ``Dense(classes)`` named ``predictions``
    with ``include_top``, else the optional global pooling. ``pool_names``: the pooling
    layers are named ``avg_pool``/``max_pool`` (ResNet, DenseNet, EfficientNet) rather than
    numbered (MobileNetV2)."""
    avg = {"name": "avg_pool"} if pool_names else {}
    if include_top:
        x = layers.GlobalAveragePooling2D(**avg)(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions",
                            **(dense_kwargs or {}))(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(**avg)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(**({"name": "max_pool"} if pool_names else {}))(x)
    return x


def finish(model: str, img_input: KerasTensor, input_tensor: Any, x: KerasTensor, name: str,
           weights: Any, imagenet_file: tuple | None = None) -> Model:
    """Builds the ``Model`` and loads ``weights``. ``imagenet_file``: ``(file name, URL,
    hash or None)`` of Keras's ImageNet weights for this configuration."""
    inputs = source_inputs(input_tensor) if input_tensor is not None else img_input
    net = Model(inputs, x, name=name)
    if weights == "imagenet":
        net.load_weights(imagenet_weights(model, imagenet_file))
    elif weights is not None:
        net.load_weights(os.fspath(weights))
    return net


def imagenet_weights(model: str, imagenet_file: tuple | None) -> str:
    """The local path of Keras's ImageNet weights: from ``$GPUNET_DATA_DIR``, the gpunet or
    Keras cache (``~/.keras/models``), or downloaded and checked against Keras's hash."""
    if imagenet_file is None:
        raise ValueError(f"{model}: no ImageNet weights exist for this configuration; pass "
                         "weights=None or the path of a weights file.")
    from gpunet.utils.data_utils import get_file

    fname, url, file_hash = imagenet_file
    try:
        return get_file(fname, url, file_hash=file_hash, cache_subdir="models",
                        hash_algorithm="auto")
    except OSError as e:
        raise ValueError(
            f"{model}: weights='imagenet' needs Keras's file {fname!r} ({url}), which is not "
            f"in $GPUNET_DATA_DIR or the caches and could not be downloaded ({e}). Download "
            "it and pass its path as `weights=<path>`, or put it in $GPUNET_DATA_DIR.") from e


def channel_axis() -> int:
    """The channel axis of 4-D image tensors under the current ``image_data_format``."""
    return 1 if image_data_format() == "channels_first" else 3
