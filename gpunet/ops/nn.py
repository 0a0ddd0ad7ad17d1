"""Neural-network ops: the fused dense op, activations, softmax, dropout."""

from __future__ import annotations

import math as _math
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops import _symbolic as _sym
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.math import unary


class Dense(Function):
    """``act(x @ W + b)`` as one node; ``act`` is ``None`` or ``"relu"`` (fused)."""

    def __init__(self, activation: str | None = None):
        self.activation = activation

    def forward(self, x, w, b=None):
        self.in_shape = x.shape
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        y = x2 @ w
        relu = self.activation == "relu"
        if b is not None or relu:
            backend_of(y).bias_act(y, b, relu)  # one pass where the backend fuses it
        if relu:
            self.y = y
        self.x2, self.w = x2, w
        return y.reshape(self.in_shape[:-1] + (w.shape[1],)) if x.ndim != 2 else y

    def backward(self, gy):
        g = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
        need = self.needs_input_grad
        need_b = len(need) > 2 and need[2]
        bk = backend_of(g)
        gb = None
        if self.activation == "relu":
            if need_b:  # the ReLU gradient and its column sums in one pass
                g, gb = bk.relu_grad_bias(g, self.y, self.grad_buffer(2))
            else:
                g = bk.relu_grad(g, self.y)
        xp = xp_of(g)
        gx = gw = None
        if need[0]:
            gx = (g @ self.w.T).reshape(self.in_shape)
        if need[1]:
            out = self.grad_buffer(1)
            gw = xp.matmul(self.x2.T, g, out=out) if out is not None else self.x2.T @ g
        if need_b and gb is None:
            out = self.grad_buffer(2)
            gb = g.sum(axis=0, out=out) if out is not None else g.sum(axis=0)
        return gx, gw, gb


def dense(x: Any, kernel: Any, bias: Any = None, activation: str | None = None) -> Tensor:
    """Fused ``x @ kernel + bias`` (optionally followed by ReLU) over the last axis of ``x``."""
    if bias is None:
        return Dense(activation)(as_tensor(x), kernel)
    return Dense(activation)(as_tensor(x), kernel, bias)


class ReLU(Function):
    def forward(self, x):
        self.y = xp_of(x).maximum(x, 0)
        return self.y

    def backward(self, gy):
        return backend_of(gy).relu_grad(gy, self.y)


class Sigmoid(Function):
    def forward(self, x):
        xp = xp_of(x)
        y = xp.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self.y = y
        return y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class Softmax(Function):
    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        xp = xp_of(x)
        m = x.max(axis=self.axis, keepdims=True)
        z = x - m
        xp.exp(z, out=z)
        s = z.sum(axis=self.axis, keepdims=True)
        z /= s
        # m and s stay for a cross-entropy on the same logits (softmax_parts)
        self.y, self.m, self.s = z, m, s
        return z

    def backward(self, gy):
        y = self.y
        gx = y * gy
        gx -= y * gx.sum(axis=self.axis, keepdims=True)
        return gx


def softmax_parts(probs: Tensor | None, logits: Tensor) -> tuple | None:
    """``(max, sum of exp(logits - max), probabilities)`` over the last axis, kept by the
    ``Softmax`` node that made ``probs`` from ``logits`` while the graph records (training);
    else None. A cross-entropy on the same logits reuses them instead of computing the
    softmax again: the same operations on the same arrays, so the same numbers."""
    node = probs.creator if probs is not None else None
    if node.__class__ is not Softmax:
        return None
    saved = node.__dict__
    inputs = saved.get("inputs")
    if (not inputs or inputs[0] is not logits or "s" not in saved
            or saved["y"] is not probs.data or node.axis not in (-1, logits.ndim - 1)):
        return None
    return saved["m"], saved["s"], saved["y"]


class LogSoftmax(Function):
    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        xp = xp_of(x)
        z = x - x.max(axis=self.axis, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
        self.y = z
        return z

    def backward(self, gy):
        xp = xp_of(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x: Any, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> Tensor:
    """Rectified linear unit, with Keras's optional slope, cap and threshold."""
    if x.__class__ is _sym.KT:
        return _sym.call("relu", (x,), {"negative_slope": negative_slope, "max_value": max_value,
                                        "threshold": threshold})
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ReLU()(as_tensor(x))

    # x at or below the threshold takes the negative branch (relu(5., threshold=5.) == 0, as in
    # Keras); with threshold 0 both branches give 0 there.
    def f(xp, v):
        y = xp.where(v > threshold, v, negative_slope * (v - threshold))
        return y if max_value is None else xp.minimum(y, max_value)

    def df(xp, v, y, g):
        d = xp.where(v > threshold, 1.0, negative_slope).astype(v.dtype)
        if max_value is not None:
            d = d * (v < max_value)
        return g * d

    return unary(f, df)(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.

    The output remembers its input (``_logits``) so a binary cross-entropy that follows
    can use the stable logits form, as TensorFlow's Keras does.
    """
    if x.__class__ is _sym.KT:
        return _sym.call("sigmoid", (x,), {})
    x = as_tensor(x)
    y = Sigmoid()(x)
    y._logits, y._logits_kind = x, "sigmoid"
    return y


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax over ``axis``.

    Over the last axis, the output remembers its input (``_logits``) so a cross-entropy
    loss that follows can use the fused, stable log-softmax form (TensorFlow Keras does the
    same); the loss value differs from clip-then-log only where a probability is below 1e-7.
    """
    if x.__class__ is _sym.KT:
        return _sym.call("softmax", (x,), {"axis": axis})
    x = as_tensor(x)
    y = Softmax(axis)(x)
    if axis in (-1, x.ndim - 1):
        y._logits, y._logits_kind = x, "softmax"
    return y


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of the softmax over ``axis``, computed stably."""
    if x.__class__ is _sym.KT:
        return _sym.call("log_softmax", (x,), {"axis": axis})
    return LogSoftmax(axis)(as_tensor(x))


def _sig(xp, x):
    return 0.5 * (xp.tanh(0.5 * x) + 1)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    from gpunet.ops.math import tanh as _tanh

    return _tanh(x)


softplus = unary(lambda xp, x: xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0),
                 lambda xp, x, y, g: g * _sig(xp, x))
softsign = unary(lambda xp, x: x / (1 + xp.abs(x)),
                 lambda xp, x, y, g: g / (1 + xp.abs(x)) ** 2)
silu = unary(lambda xp, x: x * _sig(xp, x),
             lambda xp, x, y, g: g * (_sig(xp, x) * (1 + x * (1 - _sig(xp, x)))))
swish = silu
exponential = unary(lambda xp, x: xp.exp(x), lambda xp, x, y, g: g * y)
relu6 = unary(lambda xp, x: xp.clip(x, 0, 6), lambda xp, x, y, g: g * ((x > 0) & (x < 6)))
hard_sigmoid = unary(lambda xp, x: xp.clip(x / 6 + 0.5, 0, 1),
                     lambda xp, x, y, g: g * ((x > -3) & (x < 3)) / 6)
hard_silu = unary(lambda xp, x: x * xp.clip(x / 6 + 0.5, 0, 1),
                  lambda xp, x, y, g: g * xp.where(x <= -3, 0, xp.where(x >= 3, 1, x / 3 + 0.5)))
hard_swish = hard_silu
mish = unary(
    lambda xp, x: x * xp.tanh(xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)),
    lambda xp, x, y, g: g * (
        xp.tanh(xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0))
        + x * _sig(xp, x) * (1 - xp.tanh(xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)) ** 2)
    ),
)


def linear(x: Any) -> Tensor:
    """The identity activation."""
    return as_tensor(x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return unary(lambda xp, v: xp.where(v > 0, v, alpha * xp.expm1(xp.minimum(v, 0))),
                 lambda xp, v, y, g: g * xp.where(v > 0, 1, y + alpha))(x)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> Tensor:
    """Scaled ELU with the self-normalising constants of Klambauer et al. (2017)."""
    a, s = _SELU_ALPHA, _SELU_SCALE
    return unary(lambda xp, v: s * xp.where(v > 0, v, a * xp.expm1(xp.minimum(v, 0))),
                 lambda xp, v, y, g: g * xp.where(v > 0, s, y + s * a))(x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    """Leaky ReLU: ``x`` if ``x >= 0`` else ``negative_slope * x`` (Keras 3 default 0.2)."""
    return unary(lambda xp, v: xp.where(v >= 0, v, negative_slope * v),
                 lambda xp, v, y, g: g * xp.where(v >= 0, 1, negative_slope).astype(v.dtype))(x)


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit; ``approximate=True`` (the default of ``keras.ops.gelu``;
    the activation ``gelu`` passes ``False``) uses the tanh formula."""
    if approximate:
        c = _math.sqrt(2 / _math.pi)

        def f(xp, v):
            return 0.5 * v * (1 + xp.tanh(c * (v + 0.044715 * v ** 3)))

        def df(xp, v, y, g):
            t = xp.tanh(c * (v + 0.044715 * v ** 3))
            return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v))

        return unary(f, df)(x)
    inv = 1 / _math.sqrt(2)
    k = 1 / _math.sqrt(2 * _math.pi)
    return unary(lambda xp, v: 0.5 * v * (1 + backend_of(v).erf(v * inv)),
                 lambda xp, v, y, g: g * (0.5 * (1 + backend_of(v).erf(v * inv))
                                          + v * k * xp.exp(-0.5 * v * v)))(x)


class Dropout(Function):
    """Inverted dropout as Keras: ``where(keep, x / (1 - rate), 0)`` with each unit kept with
    probability ``1 - rate``; the mask comes from a Philox stream (the backend's, or a seeded
    layer's) in one pass where the backend fuses it."""

    def __init__(self, rate: float, noise_shape: tuple | None = None, stream: Any = None):
        self.rate, self.noise_shape, self.stream = rate, noise_shape, stream

    def forward(self, x):
        b = backend_of(x)
        shape = tuple(self.noise_shape or x.shape)
        self.b = b
        if self.rate >= 1:
            self.keep = b.xp.zeros(shape, bool)
            return b.xp.zeros_like(x)
        stream = b.philox if self.stream is None else getattr(self.stream, "philox", None)
        kp = x.dtype.type(1.0 - self.rate)
        if stream is None:  # a stream of uniform draws only (``gpunet.random.dropout``)
            self.keep = self.stream.uniform(b, shape, x.dtype) >= self.rate
            return b.xp.where(self.keep, x / kp, 0)
        if shape == x.shape:
            start = stream.reserve(b, x.size)
            y, self.keep = b.philox_dropout(x, start, stream.key, self.rate)
            return y
        self.keep = b.philox_keep(stream.reserve(b, _math.prod(shape)), stream.key, shape,
                                  self.rate)
        return b.xp.where(self.keep, x / kp, 0)

    def backward(self, gy):
        if self.rate >= 1:
            return self.b.xp.zeros_like(gy)
        return self.b.dropout_grad(gy, self.keep, self.rate)


def dropout(x: Any, rate: float, noise_shape: tuple | None = None, stream: Any = None) -> Tensor:
    """Applies inverted dropout (training-time only; callers skip it at inference).

    ``stream``: a ``gpunet.backend.random.SeedStream`` to draw from instead of the backend's
    global generator (a seeded layer's own masks).
    """
    return Dropout(rate, noise_shape, stream)(as_tensor(x))
