"""Layer pairs that ``Sequential`` may run as one node, with the result the layers give.

``Conv2D(f, k, activation="relu")`` (stride 1, 'valid', channels last) followed by
``MaxPooling2D(2)`` over an input that takes no gradient (a first layer on data) runs as
``gpunet.ops.conv_pool.conv_relu_max_pool`` where the backend has the fused kernel: the
convolution's output, the largest array of such a step, is never formed. The pair runs
through the layers themselves on the first call (shape checks, build) and whenever any
condition does not hold: a mixed-precision policy, an activity regularizer, a subclass, an
input of another dtype, shape or device.
"""

from __future__ import annotations

from typing import Any

from gpunet import activations
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.layers.convolutional import Conv2D
from gpunet.layers.pooling import MaxPooling2D
from gpunet.ops.conv_pool import conv_relu_max_pool, conv_relu_pool_ok


def _pair_ok(conv: Any, pool: Any) -> bool:
    return (pool.__class__ is MaxPooling2D and conv.built and pool.built
            and conv.activation is activations.relu and conv.padding == "valid"
            and conv.strides == (1, 1) and conv.dilation_rate == (1, 1) and conv.groups == 1
            and conv.data_format == "channels_last" and conv.activity_regularizer is None
            and conv._autocast_scope is None and pool.pool_size == (2, 2)
            and pool.strides == (2, 2) and pool.padding == "valid"
            and pool.data_format == "channels_last" and pool.activity_regularizer is None
            and pool._autocast_scope is None)


def conv_pool_call(conv: Any, pool: Any, x: Any) -> Tensor | None:
    """``pool(conv(x))`` as one fused node, or None where the layers must run themselves.

    Args:
        conv: a ``Conv2D`` layer (exactly that class).
        pool: the layer after it.
        x: the conv's input (a Tensor).
    """
    if conv.__class__ is not Conv2D or not _pair_ok(conv, pool) or x.__class__ is not Tensor:
        return None
    kernel = conv.kernel
    data = x.data
    shape = conv.input_shape_
    if (data.dtype != conv._compute_dtype or tuple(data.shape[1:]) != tuple(shape[1:])
            or backend_of(data) is not backend_of(kernel.data)
            or not conv_relu_pool_ok(x, kernel)):
        return None
    return conv_relu_max_pool(x, kernel, conv.bias)
