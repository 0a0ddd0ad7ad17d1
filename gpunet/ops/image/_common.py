"""Helpers shared by the ``keras.ops.image`` modules: the data format, rank checks, the
choice between raw backend arrays and the differentiable ops."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from gpunet.autograd import engine
from gpunet.autograd.tensor import Tensor
from gpunet.ops import gather, math, products, shape_ops
from gpunet.ops._utils import as_tensor
from gpunet.ops.elementwise import OPS as _ELEMENTWISE

# the differentiable counterparts of the ``xp`` functions the image helpers call, so one
# formula serves raw arrays (``xp``) and Tensors that need a gradient (``DIFF``)
DIFF = types.SimpleNamespace(
    abs=math.abs, clip=math.clip, maximum=math.maximum, minimum=math.minimum,
    mod=_ELEMENTWISE["mod"], where=math.where, stack=shape_ops.stack,
    expand_dims=shape_ops.expand_dims, take=gather.take, tensordot=products.tensordot)


def standardize_data_format(data_format: Any) -> str:
    """``data_format`` lower-cased, ``None`` meaning ``gpunet.config.image_data_format()``."""
    if data_format is None:
        from gpunet.backend import image_data_format

        return image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of "
                         "{'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    return data_format


def check_image_rank(images: Any, received: str = "Received input with shape: ") -> None:
    """Keras's error for an ``images`` argument that is not one image or a batch."""
    if len(images.shape) not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 "
                         f"(batch of images). {received}images.shape={tuple(images.shape)}")


def needs_grad(x: Any) -> bool:
    """Whether ``x`` is a Tensor recording a gradient now."""
    return isinstance(x, Tensor) and x.requires_grad and engine.grad_enabled()


def as_image_tensor(images: Any) -> Tensor:
    """``images`` as a Tensor (arrays, lists and scalars converted on the default backend)."""
    if isinstance(images, (list, tuple)):
        images = np.asarray(images)
    return as_tensor(images)


def hw_axes(ndim: int, data_format: str) -> tuple:
    """The (height, width) axes of a rank-``ndim`` image batch or image."""
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)
