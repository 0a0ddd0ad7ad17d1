"""``MultiHeadAttention``, written once against the backend (see ``attention.py``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet import constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.layers.attention_support import (
    _raw_mask,
    qvk_eager_inputs,
    qvk_inputs,
    qvk_symbolic_call,
)
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops.attention import causal_mask, scaled_dot_product_attention
from gpunet.registry import register


@register("layer")
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017), Keras 3 weight layout.

    ``query``, ``key`` and ``value`` are projected to ``num_heads`` heads, each head runs
    scaled dot-product attention (scores scaled by ``1/sqrt(key_dim)``), and the heads are
    projected back to the query's last dimension (or ``output_shape``).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default ``key_dim``).
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the four projections have biases.
        output_shape: the trailing output shape (int or tuple; default: query's last dim).
        attention_axes: the axes attention runs over; only the default (every axis between
            the batch and the feature axis, flattened) is supported.
        kernel_initializer, bias_initializer: default ``"glorot_uniform"`` / ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties (the activity
            penalty applies to each projection's output, as Keras's sub-layers do).
        kernel_constraint, bias_constraint: projections after each update.
        seed: optional int seed of the dropout masks.

    Call arguments:
        query: ``(batch, Tq, dim)``.
        value: ``(batch, Tv, dim_v)``.
        key: ``(batch, Tv, dim_k)`` (default: ``value``).
        attention_mask: boolean ``(batch, Tq, Tv)`` (True = attend), combined with the
            query/value/key masks (``_keras_mask``) and the causal mask.
        return_attention_scores: also return the weights ``(batch, num_heads, Tq, Tv)``.
        training: dropout only when True.
        use_causal_mask: query step ``i`` attends only to value steps ``j <= i``.

    Weights (``get_weights`` order, as Keras): ``query/kernel (dim, num_heads, key_dim)``,
    ``query/bias (num_heads, key_dim)``, ``key/kernel``, ``key/bias``, ``value/kernel
    (dim_v, num_heads, value_dim)``, ``value/bias``, ``attention_output/kernel (num_heads,
    value_dim, dim)``, ``attention_output/bias (dim,)``.

    Input shape:
        query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, optional key.

    Output shape:
        ``(batch, Tq, dim)`` (or ``(batch, Tq) + output_shape``), and optionally the scores
        ``(batch, num_heads, Tq, Tv)``.

    Example:

    >>> x = Input((10, 16))
    >>> y = MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    >>> y.shape
    (None, 10, 16)
    """

    supports_masking = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True,
                 output_shape: int | Sequence[int] | None = None,
                 attention_axes: int | Sequence[int] | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, seed: int | None = None,
                 flash_attention: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for arg, val in (("num_heads", num_heads), ("key_dim", key_dim),
                         ("value_dim", value_dim if value_dim is not None else 1)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val <= 0:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): `{arg}` must be a "
                                 f"positive integer. Received: {arg}={val!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): `dropout` must be a "
                             f"float in [0, 1]. Received: dropout={dropout!r}")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self._output_shape = tuple(output_shape) if output_shape else None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): `attention_axes` must "
                             f"be an int, list, or tuple. Received: {attention_axes!r}")
        self.attention_axes = tuple(attention_axes) if attention_axes is not None else None
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_reg = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._stream = None if seed is None else SeedStream(seed)

    # -- building ------------------------------------------------------------------------------
    def _proj(self, name: str, kshape: tuple, bshape: tuple, n_in: int = 1) -> tuple:
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            # as Keras 3.15's EinsumDense: the fans are the products of the kernel's input
            # axes (the first n_in) and output axes, not of its last two axes
            init = type(init).from_config({**init.get_config(),
                                           "input_axes": list(range(n_in)),
                                           "output_axes": list(range(n_in, len(kshape)))})
        k = self.add_weight(f"{name}/kernel", kshape, init,
                            regularizer=self.kernel_regularizer,
                            constraint=self.kernel_constraint)
        b = None
        if self.use_bias:
            b = self.add_weight(f"{name}/bias", bshape, self.bias_initializer,
                                regularizer=self.bias_regularizer,
                                constraint=self.bias_constraint)
        return k, b

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        """Creates the four projections for the query, value and key shapes (Keras 3)."""
        # Keras 3 writes these as build_config {"shapes_dict": ...} (read by saving)
        self._build_shapes = {"query_shape": list(query_shape),
                              "value_shape": list(query_shape if value_shape is None
                                                  else value_shape)}
        if key_shape is not None:
            self._build_shapes["key_shape"] = list(key_shape)
        value_shape = tuple(query_shape if value_shape is None else value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        query_shape = tuple(query_shape)
        for arg, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) < 3 or s[-1] is None:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) expects `{arg}` of "
                                 "shape (batch, ..., dim) with a known dim and at least 3 axes. "
                                 f"Received: {arg} shape {shape_str(s)}")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): all dimensions of "
                             "`value` and `key`, except the last one, must be equal. Received: "
                             f"value shape {shape_str(value_shape)} and key shape "
                             f"{shape_str(key_shape)}")
        rank = len(query_shape)
        if self.attention_axes is not None:
            norm = tuple(a + rank if a < 0 else a for a in self.attention_axes)
            if norm != tuple(range(1, rank - 1)):
                raise NotImplementedError(
                    f"Layer '{self.name}' (MultiHeadAttention): gpunet supports only the default "
                    f"attention_axes={tuple(range(1, rank - 1))} (every axis between the batch "
                    f"and the feature axis) for {rank}-D inputs. Received: "
                    f"attention_axes={self.attention_axes}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (query_shape[-1],)
        self.query_kernel, self.query_bias = self._proj("query", (query_shape[-1], h, kd), (h, kd))
        self.key_kernel, self.key_bias = self._proj("key", (key_shape[-1], h, kd), (h, kd))
        self.value_kernel, self.value_bias = self._proj("value", (value_shape[-1], h, vd),
                                                        (h, vd))
        self.output_kernel, self.output_bias = self._proj("attention_output", (h, vd) + out,
                                                          out, n_in=2)
        self.built = True

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, query: Any, value: Any = None, key: Any = None,
                 training: bool | None = None, attention_mask: Any = None,
                 return_attention_scores: bool = False, use_causal_mask: bool = False,
                 query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
                 **kwargs: Any) -> Any:
        query, value, key = qvk_inputs(self, "MultiHeadAttention", "mha", query, value, key,
                                       kwargs)
        masks = (query_mask, value_mask, key_mask)
        out = qvk_symbolic_call(self, query, value, key, masks, attention_mask, training,
                                return_attention_scores, use_causal_mask)
        if out is not None:
            return out
        masks, q, v, k = qvk_eager_inputs(self, query, value, key, masks)
        self._check_shapes(q, v, k)
        out = self.call(q, v, k, attention_mask=attention_mask, masks=masks, training=training,
                        return_attention_scores=return_attention_scores,
                        use_causal_mask=use_causal_mask)
        if masks[0] is not None:
            (out[0] if isinstance(out, tuple) else out)._keras_mask = _raw_mask(masks[0], q)
        return out

    def _check_shapes(self, q: Tensor, v: Tensor, k: Tensor | None) -> None:
        k = v if k is None else k
        for arg, t, w in (("query", q, self.query_kernel), ("value", v, self.value_kernel),
                          ("key", k, self.key_kernel)):
            if t.shape[-1] != w.shape[0]:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): expected `{arg}` with "
                                 f"last dimension {w.shape[0]}, but received `{arg}` of shape "
                                 f"{shape_str((None,) + tuple(t.shape[1:]))}")
            if t.ndim != q.ndim:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): `query`, `value` "
                                 "and `key` must have the same rank. Received shapes "
                                 f"{shape_str(q.shape)} and {shape_str(t.shape)}")

    def _project(self, x: Tensor, kernel: Any, bias: Any) -> Tensor:
        """``einsum('btc,chd->bhtd')`` (+ bias) as one fused dense op and reshapes."""
        b, t = x.shape[0], x.shape[1]
        _, h, d = kernel.shape
        y = ops.dense(x, ops.reshape(kernel, (kernel.shape[0], h * d)),
                      None if bias is None else ops.reshape(bias, (h * d,)))
        if self._activity_reg is not None:
            self._activity_losses.append(self._activity_reg(y) / b)
        return ops.transpose(ops.reshape(y, (b, t, h, d)), (0, 2, 1, 3))

    def _attention_mask(self, xp: Any, q: Tensor, v: Tensor, masks: list, attention_mask: Any,
                        use_causal_mask: bool, tq: int, tv: int) -> Any:
        """Keras's ``_compute_attention_mask``: ``(B, Tq, Tv)`` bool or None."""
        b = q.shape[0]
        qm, vm, km = (None if m is None else _raw_mask(m, q).reshape(b, -1) for m in masks)
        auto = None if qm is None else qm[:, :, None]
        for m in (vm, km):
            if m is not None:
                auto = m[:, None, :] if auto is None else auto & m[:, None, :]
        if use_causal_mask:
            c = causal_mask(xp, tq, tv)[None]
            auto = c if auto is None else auto & c
        if attention_mask is not None:
            am = _raw_mask(attention_mask, q)
            if am.ndim > 3:
                am = am.reshape(am.shape[0], tq, tv)
            auto = am if auto is None else am & auto
        return auto

    def call(self, query: Tensor, value: Tensor, key: Tensor | None = None,
             attention_mask: Any = None, masks: list | None = None,
             training: bool | None = None, return_attention_scores: bool = False,
             use_causal_mask: bool = False) -> Any:
        key = value if key is None else key
        masks = masks or [None, None, None]
        b, q_mid = query.shape[0], tuple(query.shape[1:-1])
        q3 = ops.reshape(query, (b, -1, query.shape[-1])) if query.ndim > 3 else query
        v3 = ops.reshape(value, (b, -1, value.shape[-1])) if value.ndim > 3 else value
        k3 = ops.reshape(key, (b, -1, key.shape[-1])) if key.ndim > 3 else key
        self._activity_losses = []
        qh = self._project(q3, self.query_kernel, self.query_bias)
        kh = self._project(k3, self.key_kernel, self.key_bias)
        vh = self._project(v3, self.value_kernel, self.value_bias)
        xp = backend_of(qh.data).xp
        tq, tv = q3.shape[1], v3.shape[1]
        mask = self._attention_mask(xp, query, value, masks, attention_mask, use_causal_mask,
                                    tq, tv)
        out, scores = scaled_dot_product_attention(
            qh, kh, vh, mask=None if mask is None else mask[:, None],
            scale=1.0 / math.sqrt(float(self.key_dim)),
            dropout=self.dropout if training else 0.0, return_attention_scores=True,
            stream=self._stream, zero_masked=True, scores_after_dropout=False)
        h, vd = self.num_heads, self.value_dim
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, tq, h * vd))
        oshape = tuple(self.output_kernel.shape[2:])
        n_out = int(np.prod(oshape))
        y = ops.dense(out, ops.reshape(self.output_kernel, (h * vd, n_out)),
                      None if self.output_bias is None else ops.reshape(self.output_bias,
                                                                        (n_out,)))
        if self._activity_reg is not None:
            self._activity_losses.append(self._activity_reg(y) / b)
        y = ops.reshape(y, (b,) + q_mid + oshape)
        if return_attention_scores:
            if query.ndim > 3:
                scores = ops.reshape(scores, (b, h) + q_mid + tuple(value.shape[1:-1]))
            return y, scores
        return y

    def compute_output_shape(self, query_shape: Any, value_shape: Any = None,
                             key_shape: Any = None) -> tuple:
        out = self._output_shape or (query_shape[-1],)
        return tuple(query_shape[:-1]) + tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query mask passes on to the output."""
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": list(self._output_shape) if self._output_shape else None,
                "attention_axes": (list(self.attention_axes) if self.attention_axes is not None
                                   else None),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self._activity_reg),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "seed": self.seed}
