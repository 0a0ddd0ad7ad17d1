"""Layer pairs that ``Sequential`` may run together, with the result the layers give.

A ``Conv2D`` (stride and dilation 1, channels last) followed by a 'valid' pooling layer:

- ``Conv2D(f, k, activation="relu")`` ('valid' or 'same': the data is padded once) +
  ``MaxPooling2D(2)`` over an input that takes no gradient (a first layer on data) runs as
  ``gpunet.ops.conv_pool.conv_relu_max_pool`` where the backend has the fused kernel: the
  convolution's output, the largest array of such a step, is never formed.
- Otherwise, for a 'valid' convolution, where the pool reads fewer rows or columns than the
  convolution gives (an odd size under a 2x2 pool: 11x11 -> 5x5 reads 10x10), the
  convolution runs on the input rows and columns that reach the rows the pool reads, and no
  product is spent on the others (17% of the Keras convnet's second convolution). Values
  and gradients are those of the full convolution: the cells left out reach no pooled
  output.

``Sequential`` looks at each ``Conv2D`` and the layer after it; a functional model's plan
pairs a ``Conv2D`` whose output only a pool reads (``pair_conv_pools``). The pair runs
through the layers themselves on the first call (shape checks, build) and
whenever any condition does not hold: a mixed-precision policy, an activity regularizer, a
subclass, an input of another dtype, shape or device.
"""

from __future__ import annotations

from typing import Any

from gpunet import activations
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.layers.convolutional import Conv2D
from gpunet.layers.pooling import AveragePooling2D, MaxPooling2D
from gpunet.ops.conv import Conv, _pads, pad_nhwc
from gpunet.ops.conv_pool import conv_relu_max_pool, conv_relu_pool_ok


def _conv_ok(conv: Any, x: Any) -> bool:
    """The convolution's own conditions, and an input the layer would take unchanged."""
    if not (conv.built and conv.padding in ("valid", "same") and conv.strides == (1, 1)
            and conv.dilation_rate == (1, 1) and conv.data_format == "channels_last"
            and conv.activity_regularizer is None and conv._autocast_scope is None
            and x.__class__ is Tensor):
        return False
    data = x.data
    shape = conv.input_shape_
    return (data.dtype == conv._compute_dtype and data.ndim == len(shape)
            and all(e is None or e == s for e, s in zip(shape[1:], data.shape[1:]))
            and backend_of(data) is backend_of(conv.kernel.data))


def _pool_ok(pool: Any) -> bool:
    return (pool.__class__ in (MaxPooling2D, AveragePooling2D) and pool.built
            and pool.padding == "valid" and pool.data_format == "channels_last"
            and pool.activity_regularizer is None and pool._autocast_scope is None)


def _rows_read(n: int, pool: int, stride: int) -> int:
    """How many of ``n`` rows a 'valid' pool of ``pool`` cells and ``stride`` reads."""
    return ((n - pool) // stride) * stride + pool if n >= pool else n


def conv_pool_call(conv: Any, pool: Any, x: Any) -> Tensor | None:
    """``pool(conv(x))`` in one of the forms above, or None where the layers must run
    themselves.

    Args:
        conv: a ``Conv2D`` layer (exactly that class).
        pool: the layer after it.
        x: the conv's input.
    """
    if conv.__class__ is not Conv2D or not _pool_ok(pool) or not _conv_ok(conv, x):
        return None
    relu = conv.activation is activations.relu
    if (relu and pool.__class__ is MaxPooling2D and pool.pool_size == (2, 2)
            and pool.strides == (2, 2) and conv.groups == 1
            and conv_relu_pool_ok(x, conv.kernel)):
        if conv.padding == "same":  # the data padded once (it takes no gradient)
            kh, kw = conv.kernel_size
            pads = _pads(x.shape[1:3], (kh, kw), (1, 1), (1, 1), "same")
            x = Tensor(pad_nhwc(x.data, pads))
        return conv_relu_max_pool(x, conv.kernel, conv.bias)
    if conv.padding != "valid":
        return None
    kh, kw = conv.kernel_size
    h, w = x.shape[1], x.shape[2]
    oh, ow = h - kh + 1, w - kw + 1
    rh = _rows_read(oh, pool.pool_size[0], pool.strides[0])
    rw = _rows_read(ow, pool.pool_size[1], pool.strides[1])
    if (rh, rw) == (oh, ow):
        return None  # the pool reads every output: nothing to save
    fn = Conv((1, 1), "valid", (1, 1), conv.groups, "relu" if relu else None, (rh, rw))
    y = fn(x, conv.kernel) if conv.bias is None else fn(x, conv.kernel, conv.bias)
    if not relu and conv.activation is not activations.linear:
        y = conv.activation(y)
    return pool(y)


class ConvPoolPair:
    """A functional model's plan entry for ``pool(conv(x))``: ``conv_pool_call`` where it
    applies, else the two layers one after the other."""

    def __init__(self, conv: Any, pool: Any) -> None:
        self.conv, self.pool = conv, pool

    def __call__(self, x: Any, training: bool | None = None) -> Any:
        y = conv_pool_call(self.conv, self.pool, x)
        if y is None:
            y = self.pool(self.conv(x, training=training), training=training)
        return y


def _slots_read(spec: Any, into: dict) -> None:
    if isinstance(spec, int):
        into[spec] = into.get(spec, 0) + 1
    elif isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "t":
        into[spec[1]] = into.get(spec[1], 0) + 1
    elif isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "s":
        _slots_read(spec[1], into)
    elif isinstance(spec, (list, tuple)):
        for v in spec:
            _slots_read(v, into)
    elif isinstance(spec, dict):
        for v in spec.values():
            _slots_read(v, into)


def pair_conv_pools(plan: list, outputs: set) -> list:
    """A functional model's plan (entries ``(layer, input slot or spec, kwargs, output
    slots)``) with each ``Conv2D`` whose output is read by one pooling layer only (and is not
    a model output) run together with that pool at the conv's place."""
    reads: dict = {}
    for _, arg, kw, _ in plan:
        _slots_read(arg, reads)
        _slots_read(kw, reads)
    out = list(plan)
    for i, entry in enumerate(out):
        if entry is None:  # a pool already run with its conv
            continue
        conv, arg, kw, outs = entry
        if conv.__class__ is not Conv2D or kw or not isinstance(arg, int) or len(outs) != 1:
            continue
        s = outs[0]
        if s in outputs or reads.get(s) != 1:
            continue
        for j in range(i + 1, len(out)):
            if out[j] is None:
                continue
            pool, parg, pkw, pouts = out[j]
            if parg == s:
                if (pool.__class__ in (MaxPooling2D, AveragePooling2D) and not pkw
                        and len(pouts) == 1):
                    out[i] = (ConvPoolPair(conv, pool), arg, {}, pouts)
                    out[j] = None
                break
    return [e for e in out if e is not None]
