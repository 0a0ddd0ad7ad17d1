"""ImageNet helpers shared by the applications, as ``keras.applications.imagenet_utils``:
``preprocess_input`` (modes ``caffe``, ``tf``, ``torch``), ``decode_predictions`` and the
input-shape rules."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from gpunet.backend.config import floatx, image_data_format

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"  # md5, as in Keras
_MEAN = {"caffe": (103.939, 116.779, 123.68), "torch": (0.485, 0.456, 0.406)}
_STD = {"torch": (0.229, 0.224, 0.225)}


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Preprocesses a batch of images encoded as a NumPy (or CuPy) array or a tensor.

    Args:
        x: images with values in [0, 255], 3-D or 4-D, 3 colour channels. A floating array
            is changed in place (as in Keras); copy it first to keep it.
        data_format: "channels_last" or "channels_first" (default: ``image_data_format()``).
        mode: "caffe" (RGB to BGR, then minus the ImageNet channel means, no scaling),
            "tf" (scaled to [-1, 1]) or "torch" (scaled to [0, 1], then normalised with the
            ImageNet channel means and standard deviations).

    Returns:
        The preprocessed images (float32 for integer input).

    Example:

    >>> preprocess_input(np.array([[[255.0, 0.0, 127.5]]]), mode="tf")
    array([[[ 1., -1.,  0.]]])
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode!r}")
    if data_format is None:
        data_format = image_data_format()
    elif data_format not in ("channels_first", "channels_last"):
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format!r}")
    from gpunet.autograd import Tensor
    from gpunet.layers.node import KerasTensor

    if isinstance(x, (Tensor, KerasTensor)):
        return _preprocess_tensor(x, data_format, mode)
    if not (hasattr(x, "dtype") and hasattr(x, "shape")):
        x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(floatx())
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
    else:
        x = x[..., ::-1] if data_format == "channels_last" else (
            x[::-1] if x.ndim == 3 else x[:, ::-1])
    for c in range(3):
        ch = (..., c) if data_format == "channels_last" else ((c,) if x.ndim == 3 else
                                                              (slice(None), c))
        x[ch] -= _MEAN[mode][c]
        if mode in _STD:
            x[ch] /= _STD[mode][c]
    return x


def _preprocess_tensor(x: Any, data_format: str, mode: str) -> Any:
    """The tensor path (eager Tensors and symbolic KerasTensors): a new tensor."""
    if mode == "tf":
        return x / 127.5 - 1.0
    ndim = len(x.shape)
    axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
    if mode == "torch":
        x = x / 255.0
    else:
        x = x[..., ::-1] if axis == -1 else (x[::-1] if axis == 0 else x[:, ::-1])
    shape = [1] * ndim
    shape[axis] = 3

    def const(values):  # on the tensor's device (a host array for a symbolic tensor)
        c = np.reshape(np.asarray(values, dtype=str(x.dtype)), shape)
        if hasattr(x, "data") and hasattr(x.data, "dtype"):
            from gpunet.backend import backend_of

            return backend_of(x.data).asarray(c)
        return c

    x = x + const([-m for m in _MEAN[mode]])
    if mode in _STD:
        x = x / const(_STD[mode])
    return x


def decode_predictions(preds: Any, top: int = 5, class_index: Any = None) -> list:
    """Decodes the predictions of an ImageNet model.

    Args:
        preds: a batch of predictions, shape ``(samples, 1000)``.
        top: how many top guesses to return per sample.
        class_index: the ImageNet class index: a dict ``{"0": [wnid, name], ...}`` or the
            path of Keras's ``imagenet_class_index.json``. ``None``: that file from
            ``$GPUNET_DATA_DIR``, the gpunet or Keras cache, or downloaded from Keras's URL.

    Returns:
        One list per sample of ``(class_name, class_description, score)`` tuples, best first.

    Raises:
        ValueError: ``preds`` is not ``(samples, 1000)``, or no class index is available.
    """
    global CLASS_INDEX

    shape = tuple(preds.shape)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array "
                         f"of shape (samples, 1000)). Received array with shape: {shape}")
    if isinstance(class_index, (str, os.PathLike)):
        with open(class_index) as f:
            index = json.load(f)
    elif class_index is not None:
        index = class_index
    else:
        if CLASS_INDEX is None:
            CLASS_INDEX = _load_class_index()
        index = CLASS_INDEX
    from gpunet.autograd import Tensor
    from gpunet.backend import backend_of

    raw = preds.data if isinstance(preds, Tensor) else preds
    preds = np.asarray(backend_of(raw).to_numpy(raw) if hasattr(raw, "dtype") else raw)
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def _load_class_index() -> dict:
    from gpunet.utils.data_utils import get_file

    try:
        path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                        file_hash=CLASS_INDEX_HASH, hash_algorithm="auto")
    except OSError as e:
        raise ValueError(
            "decode_predictions needs the ImageNet class index 'imagenet_class_index.json' "
            f"({CLASS_INDEX_PATH}), which is not in $GPUNET_DATA_DIR or the caches and could not "
            f"be downloaded ({e}). Pass `class_index=<path or dict>`.") from e
    with open(path) as f:
        return json.load(f)


def obtain_input_shape(input_shape: Any, default_size: int, min_size: int, data_format: str,
                       require_flatten: bool, weights: Any = None) -> tuple:
    """The model's input shape (batch axis excluded), checked as Keras checks it."""
    last = data_format == "channels_last"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        ch = input_shape[-1] if last else input_shape[0]
        if ch not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {ch} input channels.", stacklevel=3)
        default = (default_size, default_size, ch) if last else (ch, default_size, default_size)
    else:
        default = (default_size, default_size, 3) if last else (3, default_size, default_size)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default}. Received: "
                             f"input_shape={input_shape}")
        return default
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers. Received: "
                             f"input_shape={input_shape}")
        ch, rows, cols = ((input_shape[2],) + input_shape[:2]) if last else input_shape
        if ch != 3 and weights == "imagenet":
            raise ValueError("The input must have 3 channels; Received: "
                             f"input_shape={input_shape}")
        if (rows is not None and rows < min_size) or (cols is not None and cols < min_size):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default
    else:
        input_shape = (None, None, 3) if last else (3, None, None)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs: Any, kernel_size: Any) -> tuple:
    """The ``ZeroPadding2D`` amounts before a strided 'valid' convolution that make it match
    TensorFlow's 'same' padding: ``((top, bottom), (left, right))``."""
    first = 2 if image_data_format() == "channels_first" else 1
    size = inputs.shape[first:first + 2]
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    return ((k[0] // 2 - adjust[0], k[0] // 2), (k[1] // 2 - adjust[1], k[1] // 2))


def validate_activation(classifier_activation: Any, weights: Any) -> None:
    """With pretrained weights the classifier activation must be None or softmax."""
    if weights is None:
        return
    if classifier_activation not in (None, "softmax", "linear"):
        from gpunet import activations

        fn = activations.get(classifier_activation)
        if fn not in (activations.get("softmax"), activations.get(None)):
            raise ValueError(
                "Only `None` and `softmax` activations are allowed for the "
                "`classifier_activation` argument when using pretrained weights, with "
                f"`include_top=True`; Received: classifier_activation={classifier_activation}")
