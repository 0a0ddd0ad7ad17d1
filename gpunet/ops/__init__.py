"""The differentiable functional API (the ``keras.ops`` of gpunet).

Every function takes Tensors (or arrays / Python numbers) and returns a Tensor; gradients
come from each op's hand-written backward. Importing this package also gives ``Tensor``
its arithmetic operators.
"""

from gpunet.autograd.tensor import Tensor
from gpunet.ops.attention import scaled_dot_product_attention
from gpunet.ops.conv import conv1d, conv2d
from gpunet.ops.conv_extra import conv3d, conv_transpose, depthwise_conv, separable_conv
from gpunet.ops.embedding import embedding_lookup
from gpunet.ops.losses import (
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
)
from gpunet.ops.math import (
    abs,
    add,
    cast,
    clip,
    cos,
    divide,
    exp,
    log,
    log1p,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    power,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    sum,
    tanh,
    where,
)
from gpunet.ops.nn import (
    dense,
    dropout,
    elu,
    exponential,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    linear,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    swish,
)
from gpunet.ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, pad, upsampling2d
from gpunet.ops.pool_extra import avg_pool3d, max_pool3d, upsampling3d
from gpunet.ops.rnn import gru, lstm, simple_rnn
from gpunet.ops.shape import (
    concatenate,
    expand_dims,
    flatten,
    getitem,
    reshape,
    squeeze,
    stack,
    transpose,
)


def _rev(f):
    return lambda a, b: f(b, a)


Tensor.__add__ = add
Tensor.__radd__ = _rev(add)
Tensor.__sub__ = subtract
Tensor.__rsub__ = _rev(subtract)
Tensor.__mul__ = multiply
Tensor.__rmul__ = _rev(multiply)
Tensor.__truediv__ = divide
Tensor.__rtruediv__ = _rev(divide)
Tensor.__pow__ = power
Tensor.__rpow__ = _rev(power)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _rev(matmul)
Tensor.__neg__ = negative
Tensor.__abs__ = abs
Tensor.__getitem__ = getitem
Tensor.T = property(lambda self: transpose(self))
Tensor.reshape = lambda self, *shape: reshape(
    self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)
Tensor.sum = lambda self, axis=None, keepdims=False: sum(self, axis, keepdims)
Tensor.mean = lambda self, axis=None, keepdims=False: mean(self, axis, keepdims)

__all__ = [
    "scaled_dot_product_attention",
    "embedding_lookup", "gru", "lstm", "simple_rnn",
    "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "pad",
    "upsampling2d",
    "avg_pool3d", "conv3d", "conv_transpose", "depthwise_conv", "max_pool3d", "separable_conv",
    "upsampling3d",
    "abs", "add", "cast", "clip", "concatenate", "cos", "dense", "divide", "dropout", "elu",
    "exp", "expand_dims", "exponential", "flatten", "gelu", "getitem", "hard_sigmoid",
    "hard_silu", "hard_swish", "leaky_relu", "linear", "log", "log1p", "log_softmax", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mish", "multiply", "negative", "power", "relu",
    "relu6", "reshape", "selu", "sigmoid", "sigmoid_cross_entropy", "sign", "silu", "sin",
    "softmax", "softmax_cross_entropy", "softplus", "softsign", "sparse_softmax_cross_entropy",
    "sqrt", "square", "squeeze", "stack", "subtract", "sum", "swish", "tanh", "transpose", "where",
]
