"""``keras.ops.nn`` with Keras 3's signatures: ``one_hot``, ``multi_hot``, the
cross-entropies, ``moments``, ``normalize``, ``batch_normalization``, ``conv``,
``max_pool``, ``dot_product_attention``, the extra activations. Channels-last data as in
Keras (``data_format="channels_first"`` is transposed in and out).
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import epsilon as _epsilon
from gpunet.backend import floatx
from gpunet.ops import conv_extra as _cx
from gpunet.ops import math as M
from gpunet.ops import nn as _nn
from gpunet.ops import pool as _pool
from gpunet.ops import pool_extra as _px
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.conv import conv1d, conv2d
from gpunet.ops.creation import standardize_dtype
from gpunet.ops.gather import moveaxis, repeat
from gpunet.ops.products import einsum
from gpunet.ops.shape_ops import reshape, squeeze, transpose


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None,
            sparse: bool = False) -> Tensor:
    """One-hot encodes integer ``x`` along a new ``axis``.

    Args:
        x: integer class ids, any shape.
        num_classes: the depth of the encoding.
        axis: where the new axis goes (last by default).
        dtype: the output dtype (``floatx()`` by default).
        sparse: must be False (no sparse tensors in gpunet).

    Returns:
        A Tensor of shape ``x.shape`` with ``num_classes`` inserted at ``axis``; ids outside
        ``[0, num_classes)`` give all-zero rows, as in Keras.

    Example:

    >>> ops.one_hot(np.array([1, 0, 2]), 3)     # [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    """
    if sparse:
        raise ValueError("one_hot: gpunet has no sparse tensors (sparse=True).")
    ids = as_tensor(x).data
    xp = xp_of(ids)
    out = (ids[..., None] == xp.arange(num_classes)).astype(standardize_dtype(dtype)
                                                             or floatx())
    return Tensor(out if axis == -1 else xp.moveaxis(out, -1, axis))


def multi_hot(inputs: Any, num_classes: int | None = None, axis: int = -1, dtype: Any = None,
              sparse: bool = False, **kwargs: Any) -> Tensor:
    """Multi-hot encodes the integer ids of each row of ``inputs`` (the last axis)."""
    num_classes = kwargs.pop("num_tokens", num_classes)
    ids = as_tensor(inputs).data
    hot = one_hot(Tensor(ids), num_classes, -1, dtype, sparse).data
    out = hot.max(axis=-2) if ids.ndim > 1 else hot.max(axis=0)
    return Tensor(out if axis == -1 else xp_of(out).moveaxis(out, -1, axis))


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise binary cross-entropy (probabilities clipped to ``[eps, 1 - eps]``)."""
    out = as_tensor(output)
    t = as_tensor(target, out.data)
    if from_logits:  # max(x, 0) - x t + log(1 + exp(-|x|))
        return M.add(M.subtract(M.maximum(out, 0.0), M.multiply(out, t)),
                     M.log1p(M.exp(M.negative(M.abs(out)))))
    e = _epsilon()
    p = M.clip(out, e, 1 - e)
    return M.negative(M.add(M.multiply(t, M.log(p)),
                            M.multiply(M.subtract(1.0, t), M.log(M.subtract(1.0, p)))))


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """Cross-entropy between one-hot (or soft) ``target`` and ``output`` along ``axis``."""
    out = as_tensor(output)
    t = as_tensor(target, out.data)
    if t.shape != out.shape:
        raise ValueError("categorical_crossentropy: `target` and `output` must have the same "
                         f"shape. Received: target.shape={tuple(t.shape)}, "
                         f"output.shape={tuple(out.shape)}")
    if from_logits:
        logp = _nn.log_softmax(out, axis)
    else:
        e = _epsilon()
        p = M.divide(out, M.sum(out, axis, True))
        logp = M.log(M.clip(p, e, 1 - e))
    return M.negative(M.sum(M.multiply(t, logp), axis))


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """Cross-entropy with integer class ids ``target`` (``output`` has the class ``axis``)."""
    out = as_tensor(output)
    t = as_tensor(target).data
    if t.ndim == out.ndim and t.shape[axis] == 1:
        t = t.squeeze(axis)
    hot = one_hot(Tensor(t.astype("int64")), out.shape[axis], axis, out.dtype)
    return categorical_crossentropy(hot, out, from_logits, axis)


def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple:
    """``(mean, variance)`` of ``x`` over ``axes`` (biased variance)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = M.cast(x, floatx())
    m = M.mean(x, axes, True)
    v = M.mean(M.square(M.subtract(x, m)), axes, keepdims)
    if not keepdims:
        m = squeeze(m, axes)
    return m, v


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Tensor:
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``)."""
    from gpunet.ops.linalg import norm

    x = as_tensor(x)
    eps = _epsilon() if epsilon is None else epsilon
    return M.divide(x, M.maximum(norm(x, order, axis, keepdims=True), eps))


def batch_normalization(x: Any, mean: Any, variance: Any, axis: int, offset: Any = None,
                        scale: Any = None, epsilon: float = 1e-3) -> Tensor:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics shaped
    like ``x``'s ``axis`` dimension."""
    x = as_tensor(x)
    shape = [1] * x.ndim
    shape[axis % x.ndim] = x.shape[axis]

    def b(v):
        return reshape(as_tensor(v, x.data), shape)

    y = M.divide(M.subtract(x, b(mean)), M.sqrt(M.add(b(variance), epsilon)))
    if scale is not None:
        y = M.multiply(y, b(scale))
    if offset is not None:
        y = M.add(y, b(offset))
    return y


def layer_normalization(x: Any, gamma: Any = None, beta: Any = None, axis: int = -1,
                        epsilon: float | None = None, **kwargs: Any) -> Tensor:
    """Normalizes over ``axis`` then scales by ``gamma`` and shifts by ``beta``."""
    x = as_tensor(x)
    m, v = moments(x, axis, keepdims=True)
    y = M.divide(M.subtract(x, m), M.sqrt(M.add(v, 1e-3 if epsilon is None else epsilon)))
    if gamma is not None:
        y = M.multiply(y, gamma)
    if beta is not None:
        y = M.add(y, beta)
    return y


def rms_normalization(x: Any, scale: Any = None, axis: int = -1,
                      epsilon: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2) + epsilon) * scale`` over ``axis``."""
    x = as_tensor(x)
    eps = _epsilon() if epsilon is None else epsilon
    y = M.divide(x, M.sqrt(M.add(M.mean(M.square(x), axis, True), eps)))
    return y if scale is None else M.multiply(y, scale)


def _cl(x: Tensor, data_format: str | None) -> Tensor:
    if data_format == "channels_first":
        return moveaxis(x, 1, -1)
    return x


def _cf(y: Tensor, data_format: str | None) -> Tensor:
    return moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _fmt(data_format: str | None) -> str:
    from gpunet.backend import image_data_format

    return data_format or image_data_format()


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
         data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """N-D convolution (1-D, 2-D, 3-D from the rank of ``inputs``); kernel
    ``(*kernel_size, in_channels // groups, filters)``."""
    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    r = x.ndim - 2
    groups = x.shape[-1] // kernel.shape[-2]
    fn = {1: conv1d, 2: conv2d, 3: _cx.conv3d}[r]
    return _cf(fn(x, kernel, None, strides, padding, dilation_rate, groups), df)


def depthwise_conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   data_format: str | None = None, dilation_rate: Any = 1) -> Tensor:
    """Depthwise convolution; kernel ``(*kernel_size, channels, depth_multiplier)``."""
    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    return _cf(_cx.depthwise_conv(x, kernel, None, strides, padding, dilation_rate), df)


def separable_conv(inputs: Any, depthwise_kernel: Any, pointwise_kernel: Any,
                   strides: Any = 1, padding: str = "valid", data_format: str | None = None,
                   dilation_rate: Any = 1) -> Tensor:
    """Depthwise then pointwise convolution."""
    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    return _cf(_cx.separable_conv(x, depthwise_kernel, pointwise_kernel, None, strides,
                                  padding, dilation_rate), df)


def conv_transpose(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   output_padding: Any = None, data_format: str | None = None,
                   dilation_rate: Any = 1) -> Tensor:
    """Transposed convolution; kernel ``(*kernel_size, filters, in_channels)``."""
    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    return _cf(_cx.conv_transpose(x, kernel, None, strides, padding, output_padding,
                                  dilation_rate), df)


def _pool_nd(mode: str, inputs: Any, pool_size: Any, strides: Any, padding: str,
             data_format: str | None) -> Tensor:
    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    r = x.ndim - 2
    if r == 3:
        fn = _px.max_pool3d if mode == "max" else _px.avg_pool3d
    else:
        fn = {(1, "max"): _pool.max_pool1d, (1, "avg"): _pool.avg_pool1d,
              (2, "max"): _pool.max_pool2d, (2, "avg"): _pool.avg_pool2d}[(r, mode)]
    return _cf(fn(x, pool_size, strides, padding), df)


def max_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
             data_format: str | None = None) -> Tensor:
    """Max pooling over the spatial axes (1-D to 3-D)."""
    return _pool_nd("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None) -> Tensor:
    """Average pooling over the spatial axes (1-D to 3-D; ``same`` padding averages only
    the valid cells, as Keras)."""
    return _pool_nd("avg", inputs, pool_size, strides, padding, data_format)


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None,
                          mask: Any = None, scale: float | None = None,
                          is_causal: bool = False, flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> Tensor:
    """Scaled dot-product attention on ``(batch, seq, heads, head_dim)`` tensors.

    ``key``/``value`` may have fewer heads (grouped-query attention). ``mask`` is boolean,
    broadcastable to ``(batch, heads, q_len, kv_len)``; True where attending is allowed.
    ``flash_attention=True`` raises (no fused kernel here).
    """
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True is not available in "
                         "gpunet; pass None or False.")
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    n, kh = q.shape[-2], k.shape[-2]
    if n != kh:
        k, v = repeat(k, n // kh, axis=-2), repeat(v, n // kh, axis=-2)
    s = 1.0 / float(q.shape[-1]) ** 0.5 if scale is None else scale
    logits = M.multiply(einsum("btnh,bsnh->bnts", q, k), s)
    if bias is not None:
        logits = M.add(logits, bias)
    if attn_logits_soft_cap is not None:
        c = attn_logits_soft_cap
        logits = M.multiply(M.tanh(M.divide(logits, c)), c)
    xp = xp_of(logits)
    allow = None
    if mask is not None:
        allow = as_tensor(mask).data.astype(bool)
    if is_causal:
        t, sl = logits.shape[-2], logits.shape[-1]
        causal = xp.tril(xp.ones((t, sl), bool))
        allow = causal if allow is None else allow & causal
    if allow is not None:
        big = float(xp.finfo(logits.dtype).min) * 0.7
        logits = M.where(Tensor(xp.broadcast_to(allow, logits.shape)), logits, big)
    w = _nn.softmax(logits, -1)
    return einsum("bnts,bsnh->btnh", w, v)


# -- activations of keras.ops.nn not in gpunet.ops.nn ----------------------------------------
def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    x = as_tensor(x)
    return M.add(M.maximum(x, 0.0),
                 M.minimum(M.multiply(M.subtract(M.exp(M.divide(x, alpha)), 1.0), alpha), 0.0))


def glu(x: Any, axis: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` with ``a, b`` the halves of ``x`` on ``axis``."""
    from gpunet.ops.gather import split

    x = as_tensor(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} must have an even size. Received shape "
                         f"{tuple(x.shape)}.")
    a, b = split(x, 2, axis)
    return M.multiply(a, _nn.sigmoid(b))


def hard_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    x = as_tensor(x)
    return M.where(Tensor(xp_of(x).abs(x.data) > threshold), x, 0.0)


def soft_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """``x - threshold`` above it, ``x + threshold`` below ``-threshold``, else 0."""
    x = as_tensor(x)
    d = x.data
    return M.where(Tensor(d > threshold), M.subtract(x, threshold),
                   M.where(Tensor(d < -threshold), M.add(x, threshold), 0.0))


def squareplus(x: Any, b: float = 4) -> Tensor:
    """``(x + sqrt(x**2 + b)) / 2``."""
    x = as_tensor(x)
    return M.multiply(M.add(x, M.sqrt(M.add(M.square(x), float(b)))), 0.5)


def threshold(x: Any, threshold: float, default_value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = as_tensor(x)
    return M.where(Tensor(x.data > threshold), x, float(default_value))


def sparsemax(x: Any, axis: int = -1) -> Tensor:
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection onto the simplex."""
    x = as_tensor(x)
    xp = xp_of(x)
    d = xp.moveaxis(x.data, axis, -1)
    z = -xp.sort(-d, axis=-1)
    k = xp.arange(1, d.shape[-1] + 1, dtype=d.dtype)
    cs = xp.cumsum(z, -1)
    support = (1 + k * z) > cs
    kz = support.sum(-1, keepdims=True)
    tau = (xp.take_along_axis(cs, kz - 1, -1) - 1) / kz
    tau = Tensor(xp.moveaxis(tau, -1, axis))
    # tau depends on the supported inputs: sum over the support of x, minus 1, over |S|
    supp = Tensor((x.data > tau.data).astype(x.dtype))
    cnt = M.sum(supp, axis, True)
    tau_d = M.divide(M.subtract(M.sum(M.multiply(x, supp), axis, True), 1.0), cnt)
    return M.maximum(M.subtract(x, tau_d), 0.0)


def psnr(x1: Any, x2: Any, max_val: float) -> Tensor:
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mse)``."""
    import math

    a = as_tensor(x1)
    mse = M.mean(M.square(M.subtract(a, as_tensor(x2, a.data))))
    return M.subtract(20 * math.log10(max_val), M.multiply(M.log(mse), 10 / math.log(10)))


def depth_to_space(x: Any, block_size: int, data_format: str = "channels_last") -> Tensor:
    """Moves channel blocks into spatial ``block_size`` x ``block_size`` tiles (DCR order)."""
    x = _cl(as_tensor(x), data_format)
    n, h, w, c = x.shape
    b = block_size
    y = reshape(x, (n, h, w, b, b, c // (b * b)))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (n, h * b, w * b, c // (b * b)))
    return _cf(y, data_format)


def space_to_depth(x: Any, block_size: int, data_format: str = "channels_last") -> Tensor:
    """Moves spatial ``block_size`` x ``block_size`` tiles into channels."""
    x = _cl(as_tensor(x), data_format)
    n, h, w, c = x.shape
    b = block_size
    y = reshape(x, (n, h // b, b, w // b, b, c))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (n, h // b, w // b, b * b * c))
    return _cf(y, data_format)




def _adaptive(mode: str, inputs: Any, output_size: Any, data_format: str | None) -> Tensor:
    from gpunet.ops.shape_ops import concatenate, getitem

    df = _fmt(data_format)
    x = _cl(as_tensor(inputs), df)
    r = x.ndim - 2
    sizes = (output_size,) * r if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != r:
        raise ValueError(f"adaptive_{mode}_pool: `output_size` needs {r} values for an input "
                         f"of rank {x.ndim}. Received: output_size={output_size}")
    spatial = x.shape[1:-1]
    if all(m > 0 and n % m == 0 for n, m in zip(spatial, sizes)):
        # every bin the same size: the bins are the windows of a plain pool (one node)
        k = tuple(n // m for n, m in zip(spatial, sizes))
        return _cf(_pool_nd("max" if mode == "max" else "avg", x, k, k, "valid",
                            "channels_last"), df)
    if mode == "average":  # each axis's bin means are one linear map: one product an axis
        import numpy as np

        from gpunet.backend import backend_of

        b = backend_of(x.data)
        letters = "abcde"[:x.ndim]
        for a, m in enumerate(sizes, start=1):
            n = x.shape[a]
            host = np.zeros((m, n), x.dtype)
            for i in range(m):
                lo, hi = i * n // m, -(-(i + 1) * n // m)
                host[i, lo:hi] = 1.0 / (hi - lo)
            p = b.asarray(host)
            src = letters
            dst = letters[:a] + "z" + letters[a + 1:]
            x = einsum(f"z{letters[a]},{src}->{dst}", p, x)
        return _cf(x, df)
    reduce = M.max
    for a, m in enumerate(sizes, start=1):  # separable: one spatial axis at a time
        n = x.shape[a]
        pre = (slice(None),) * a
        parts = [reduce(getitem(x, pre + (slice(i * n // m, -(-(i + 1) * n // m)),)), a, True)
                 for i in range(m)]
        x = concatenate(parts, a)
    return _cf(x, df)


def adaptive_average_pool(inputs: Any, output_size: Any, data_format: str | None = None
                          ) -> Tensor:
    """Average pooling to a fixed ``output_size``; bin ``i`` of an axis of length ``n``
    covers ``[floor(i n / m), ceil((i + 1) n / m))`` as in Keras (PyTorch's bins)."""
    return _adaptive("average", inputs, output_size, data_format)


def adaptive_max_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> Tensor:
    """Max pooling to a fixed ``output_size`` (the bins of ``adaptive_average_pool``)."""
    return _adaptive("max", inputs, output_size, data_format)
