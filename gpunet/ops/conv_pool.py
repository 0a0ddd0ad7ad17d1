"""``conv_relu_max_pool``: a small 'valid' convolution, its ReLU and a 2x2 max pool as one node.

The convolution's full-size output is never formed (see
``gpunet.backend.kernels.numba_conv_pool``): for a first layer over few channels that output
is the largest array of the step and its passes cost more than the arithmetic. The node
takes no gradient for its input (a first layer's input is data), and exists only where the
backend says it runs (``conv_relu_pool_ok``); ``Sequential`` uses it for a ``Conv2D(...,
activation="relu")`` followed by ``MaxPooling2D(2)`` (``gpunet.layers.fusion``).
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor


class ConvReluPool(Function):
    """``maxpool2x2(relu(conv_valid(x, w) + b))`` for NHWC ``x`` (stride and dilation 1)."""

    def forward(self, x, w, b=None):
        if self.needs_input_grad and self.needs_input_grad[0]:
            raise ValueError("conv_relu_max_pool: the input takes no gradient here; use "
                             "conv2d and max_pool for an input that needs one.")
        y, winners = backend_of(x).conv_relu_pool(x, w, b)
        self.saved = (x, y, winners, w.shape[:2])
        return y

    def backward(self, gy):
        x, y, winners, ksize = self.saved
        need = self.needs_input_grad
        gw, gb = backend_of(gy).conv_relu_pool_grad(x, gy, y, winners, ksize)
        gw = gw if need[1] else None
        gb = gb if len(need) > 2 and need[2] else None
        return None, gw, gb


def conv_relu_pool_ok(x: Any, kernel: Any) -> bool:
    """Whether ``conv_relu_max_pool`` runs for this input and kernel (else: the separate
    ops). The input must take no gradient, and share the kernel's dtype."""
    xd = x.data if isinstance(x, Tensor) else x
    kd = kernel.data if isinstance(kernel, Tensor) else kernel
    if (isinstance(x, Tensor) and x.requires_grad) or xd.ndim != 4 or xd.dtype != kd.dtype:
        return False
    kh, kw, c, _ = kd.shape
    if xd.shape[3] != c or xd.shape[1] < kh + 1 or xd.shape[2] < kw + 1:
        return False
    return backend_of(xd).conv_relu_pool_ok(xd.dtype, (kh, kw), c)


def conv_relu_max_pool(x: Any, kernel: Any, bias: Any = None) -> Tensor:
    """``max_pool(relu(conv2d(x, kernel) + bias), 2)`` with 'valid' padding, in one node.

    Args:
        x: ``(batch, height, width, channels)``, taking no gradient.
        kernel: ``(kh, kw, channels, filters)``.
        bias: optional ``(filters,)``.

    Returns:
        ``(batch, (height - kh + 1) // 2, (width - kw + 1) // 2, filters)``.

    Example:

    >>> y = conv_relu_max_pool(np.zeros((2, 28, 28, 1), "float32"), kernel, bias)
    >>> y.shape
    (2, 13, 13, 32)
    """
    if not conv_relu_pool_ok(x, kernel):
        raise ValueError("conv_relu_max_pool: no fused kernel for this input and kernel "
                         "(check conv_relu_pool_ok first).")
    fn = ConvReluPool()
    return fn(as_tensor(x), kernel) if bias is None else fn(as_tensor(x), kernel, bias)
