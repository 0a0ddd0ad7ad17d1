"""``GroupQueryAttention`` (grouped-query attention, Ainslie et al., 2023) as Keras 3.15 has it.

The projections are ``EinsumDense`` sublayers held as Keras holds them (``_query_dense``,
``_key_dense``, ``_gate_dense``, ``_value_dense``, ``_output_dense``), so the weights' names,
shapes, order and ``.weights.h5`` paths are Keras's; the attention itself is the fused
``scaled_dot_product_attention`` node.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.layers.attention_support import (
    _raw_mask,
    qvk_eager_inputs,
    qvk_inputs,
    qvk_symbolic_call,
)
from gpunet.layers.einsum_dense import EinsumDense
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops.attention import causal_mask, scaled_dot_product_attention
from gpunet.registry import register


def _positive_int(layer: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Layer '{layer}' (GroupQueryAttention): `{arg}` must be a positive "
                         f"integer. Received: {arg}={value!r}")
    return int(value)


@register("layer", "GroupQueryAttention")
class GroupedQueryAttention(Layer):
    """Grouped-query attention: ``num_query_heads`` query heads share ``num_key_value_heads``
    key/value heads (``num_key_value_heads=1`` is multi-query attention, equal counts are
    multi-head attention).

    ``query``, ``key`` and ``value`` are projected, each key/value head is repeated for its
    group of query heads, the scores ``query · key / sqrt(head_dim)`` are softmaxed (masked
    positions excluded) and weight the values, and the heads are projected back to the
    query's last dimension.

    Args:
        head_dim: size of each attention head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads; must divide ``num_query_heads``.
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the projections have biases.
        sliding_window: None, or a positive int ``w``: query ``i`` attends only to keys ``j``
            with ``|i - j| < w`` (with ``use_causal_mask``, the causal sliding window).
        flash_attention: Keras's switch for a fused flash kernel. gpunet has none, so it
            behaves as Keras where flash attention is unavailable: ``True`` with ``dropout``
            raises at construction, and a call raises (``RuntimeError``; ``ValueError`` when
            attention scores are asked for). ``None``/``False``: the regular computation.
        kernel_initializer, bias_initializer: default ``"glorot_uniform"`` / ``"zeros"``
            (each projection gets its own copy).
        kernel_regularizer, bias_regularizer: penalties on the projections' weights.
        activity_regularizer: penalty on each projection's output and on the layer's output
            (as Keras 3 applies it).
        kernel_constraint, bias_constraint: projections after each update.
        use_gate: gated attention: ``sigmoid(gate(query))`` multiplies the heads before the
            output projection (an extra ``gate`` projection).
        seed: optional int seed of the dropout masks.

    Call arguments:
        query: ``(batch, target_len, dim)``.
        value: ``(batch, source_len, dim)``.
        key: optional ``(batch, source_len, dim)`` (default: ``value``).
        attention_mask: boolean ``(batch, target_len, source_len)`` (True = attend), merged
            with the Keras masks of the inputs, the causal and the sliding-window masks.
        return_attention_scores: also return the weights
            ``(batch, num_query_heads, target_len, source_len)``.
        training: dropout only when True.
        use_causal_mask: query ``i`` attends only to keys ``j <= i``.

    Weights (``get_weights`` order, as Keras): ``query/kernel (dim, num_query_heads,
    head_dim)``, ``query/bias``, ``key/kernel (dim, num_key_value_heads, head_dim)``,
    ``key/bias``, (``gate/kernel``, ``gate/bias``), ``value/kernel``, ``value/bias``,
    ``attention_output/kernel (num_query_heads, head_dim, dim)``, ``attention_output/bias``.

    Input shape:
        query ``(batch, target_len, dim)``, value and key ``(batch, source_len, dim)``.

    Output shape:
        ``(batch, target_len, dim)``, and with ``return_attention_scores`` the weights
        ``(batch, num_query_heads, target_len, source_len)``.

    Returns:
        The attention output, or ``(output, scores)``.

    Example:

    >>> x = Input((10, 16))
    >>> y = GroupQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2)(x, x)
    >>> y.shape
    (None, 10, 16)
    """

    supports_masking = True
    _keras_name = "GroupQueryAttention"  # the class name Keras 3 writes in configs
    _handles_options = ("use_gate", "sliding_window")  # honoured here, not dropped on load

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int,
                 dropout: float = 0.0, use_bias: bool = True, sliding_window: int | None = None,
                 flash_attention: bool | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 use_gate: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.head_dim = _positive_int(self.name, "head_dim", head_dim)
        self.num_query_heads = _positive_int(self.name, "num_query_heads", num_query_heads)
        self.num_key_value_heads = _positive_int(self.name, "num_key_value_heads",
                                                 num_key_value_heads)
        if self.num_query_heads % self.num_key_value_heads != 0:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`. "
                             f"Received: num_query_heads={num_query_heads}, "
                             f"num_key_value_heads={num_key_value_heads} (layer "
                             f"'{self.name}')")
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0 <= dropout <= 1):
            raise ValueError(f"Layer '{self.name}' (GroupQueryAttention): `dropout` must be a "
                             f"float in [0, 1]. Received: dropout={dropout!r}")
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, (int, np.integer)) or sliding_window <= 0):
            raise ValueError("`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        self.dropout, self.use_bias, self.use_gate = float(dropout), bool(use_bias), bool(
            use_gate)
        self.sliding_window = None if sliding_window is None else int(sliding_window)
        self._flash_attention = bool(flash_attention)
        if self._flash_attention and self.dropout > 0.0:
            raise ValueError("Dropout is not supported when flash attention is enabled. "
                             "Please set dropout to 0.0 to use flash attention.")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._stream = None if seed is None else SeedStream(seed)

    # -- building ------------------------------------------------------------------------------
    def _sublayer(self, equation: str, output_shape: tuple, bias_axes: str, name: str,
                  activation: Any = None) -> EinsumDense:
        def fresh(init: Any) -> Any:  # a copy per projection, as Keras makes
            return type(init).from_config(init.get_config())

        return EinsumDense(equation, output_shape=output_shape, activation=activation,
                           bias_axes=bias_axes if self.use_bias else None, name=name,
                           kernel_initializer=fresh(self.kernel_initializer),
                           bias_initializer=fresh(self.bias_initializer),
                           kernel_regularizer=self.kernel_regularizer,
                           bias_regularizer=self.bias_regularizer,
                           activity_regularizer=self.activity_regularizer,
                           kernel_constraint=self.kernel_constraint,
                           bias_constraint=self.bias_constraint, dtype=self.dtype_policy)

    def _build_sub(self, sub: EinsumDense, shape: tuple) -> None:
        sub.build(shape)
        sub.built = True
        for w in sub._weights:  # Keras's variable paths: "<layer>/<sublayer>/<name>"
            w.path = f"{self.name}/{w.path}"

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        """Creates the projections for the query, value and key shapes (Keras 3)."""
        value_shape = tuple(query_shape if value_shape is None else value_shape)
        self._build_shapes = {"query_shape": list(query_shape), "value_shape": list(value_shape)}
        if key_shape is not None:
            self._build_shapes["key_shape"] = list(key_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        query_shape = tuple(query_shape)
        for arg, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"Layer '{self.name}' (GroupQueryAttention) expects `{arg}` of "
                                 "shape (batch, seq_len, dim) with a known dim. Received: "
                                 f"{arg} shape {shape_str(s)}")
        u, v, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self.feature_dim = query_shape[-1]
        self._query_dense = self._sublayer("bqm,muh->bquh", (None, u, h), "uh", "query")
        self._build_sub(self._query_dense, query_shape)
        self._key_dense = self._sublayer("bkm,mvh->bkvh", (None, v, h), "vh", "key")
        self._build_sub(self._key_dense, key_shape)
        if self.use_gate:
            self._gate_dense = self._sublayer("bqm,muh->bquh", (None, u, h), "uh", "gate",
                                              activation="sigmoid")
            self._build_sub(self._gate_dense, query_shape)
        self._value_dense = self._sublayer("bkm,mvh->bkvh", (None, v, h), "vh", "value")
        self._build_sub(self._value_dense, value_shape)
        self._output_dense = self._sublayer("bquh,uhm->bqm", (None, self.feature_dim), "m",
                                            "attention_output")
        self._build_sub(self._output_dense, (None, None, u, h))
        self.built = True

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, query: Any, value: Any = None, key: Any = None, query_mask: Any = None,
                 value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
                 return_attention_scores: bool = False, training: bool | None = None,
                 use_causal_mask: bool = False, **kwargs: Any) -> Any:
        query, value, key = qvk_inputs(self, "GroupQueryAttention", "layer", query, value,
                                       key, kwargs)
        masks = (query_mask, value_mask, key_mask)
        out = qvk_symbolic_call(self, query, value, key, masks, attention_mask, training,
                                return_attention_scores, use_causal_mask,
                                check=self.compute_output_shape)
        if out is not None:
            return out
        masks, q, v, k = qvk_eager_inputs(self, query, value, key, masks)
        out = self.call(q, v, k, query_mask=masks[0], value_mask=masks[1], key_mask=masks[2],
                        attention_mask=attention_mask, training=training,
                        return_attention_scores=return_attention_scores,
                        use_causal_mask=use_causal_mask)
        y = out[0] if isinstance(out, tuple) else out
        if self.activity_regularizer is not None:  # the layer's own output, as Keras 3
            self._activity_losses = [self.activity_regularizer(y) / y.shape[0]]
        if masks[0] is not None:
            y._keras_mask = _raw_mask(masks[0], q)
        return out

    def _compute_attention_mask(self, xp: Any, query: Tensor, value: Tensor, query_mask: Any,
                                value_mask: Any, key_mask: Any, attention_mask: Any,
                                use_causal_mask: bool) -> Any:
        """Keras's ``_compute_attention_mask``: a boolean ``(B or 1, T, S)`` array or None."""
        b, tq, tv = query.shape[0], query.shape[1], value.shape[1]
        qm, vm, km = (None if m is None else _raw_mask(m, query).reshape(b, -1)
                      for m in (query_mask, value_mask, key_mask))
        auto = None if qm is None else qm[:, :, None]
        for m in (vm, km):
            if m is not None:
                auto = m[:, None, :] if auto is None else auto & m[:, None, :]
        if use_causal_mask:
            c = causal_mask(xp, tq, tv)[None]
            auto = c if auto is None else auto & c
        if self.sliding_window is not None:
            band = xp.abs(xp.arange(tq)[:, None] - xp.arange(tv)[None, :]) < self.sliding_window
            auto = band[None] if auto is None else auto & band[None]
        if attention_mask is not None:
            am = _raw_mask(attention_mask, query)
            if am.ndim > 3:
                raise ValueError(f"Layer '{self.name}' (GroupQueryAttention): `attention_mask` "
                                 "must have shape (batch, target_len, source_len). Received: "
                                 f"attention_mask shape {shape_str(am.shape)}")
            am = am.reshape((1,) * (3 - am.ndim) + tuple(am.shape))
            auto = am if auto is None else am & auto
        return auto

    def call(self, query: Tensor, value: Tensor, key: Tensor | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
             attention_mask: Any = None, return_attention_scores: bool = False,
             training: bool | None = None, use_causal_mask: bool = False) -> Any:
        key = value if key is None else key
        if self._flash_attention:
            if return_attention_scores:
                raise ValueError("Returning attention scores is not supported when flash "
                                 "attention is enabled. Please disable flash attention to "
                                 "access attention scores.")
            raise RuntimeError(f"Layer '{self.name}' (GroupQueryAttention): flash attention "
                               "is not available (gpunet has no fused flash kernel, as on a "
                               "Keras backend without cuDNN/TPU support). Pass "
                               "flash_attention=None or False.")
        for arg, t, sub in (("query", query, self._query_dense), ("value", value,
                            self._value_dense), ("key", key, self._key_dense)):
            if t.ndim != 3 or t.shape[-1] != sub.kernel.shape[0]:
                raise ValueError(f"Layer '{self.name}' (GroupQueryAttention): expected `{arg}` "
                                 f"of shape (batch, seq_len, {sub.kernel.shape[0]}), but "
                                 f"received `{arg}` of shape {shape_str(t.shape)}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"Layer '{self.name}' (GroupQueryAttention): all dimensions of "
                             "`value` and `key`, except the last one, must be equal. Received: "
                             f"value shape {shape_str(value.shape)} and key shape "
                             f"{shape_str(key.shape)}")
        xp = backend_of(query.data).xp
        mask = self._compute_attention_mask(xp, query, value, query_mask, value_mask, key_mask,
                                            attention_mask, use_causal_mask)
        b, tq, ts = query.shape[0], query.shape[1], key.shape[1]
        u, kv, r, h = self.num_query_heads, self.num_key_value_heads, self.num_repeats, (
            self.head_dim)
        gate = self._project(self._gate_dense, query) if self.use_gate else None
        # heads first: (B, heads, seq, head_dim); query head i reads key/value head i // r
        q = ops.transpose(ops.reshape(self._project(self._query_dense, query),
                                      (b, tq, u, h)), (0, 2, 1, 3))
        k, v = (ops.transpose(ops.reshape(self._project(sub, t), (b, ts, kv, h)), (0, 2, 1, 3))
                for sub, t in ((self._key_dense, key), (self._value_dense, value)))
        # the r query heads of a group attend as r blocks of query rows of one key/value head
        # (Keras repeats the keys and values instead: the same numbers without the copies)
        q = ops.reshape(q, (b, kv, r * tq, h))
        if mask is not None:
            mask = xp.broadcast_to(mask[:, None, None], (mask.shape[0], 1, r, tq, ts)).reshape(
                mask.shape[0], 1, r * tq, ts)
        # Keras takes ops.dot_product_attention (a fully masked row averages the values)
        # unless it needs the scores or dropout, where Softmax(mask) zeroes such a row
        explicit = self.dropout > 0.0 or return_attention_scores
        out, scores = scaled_dot_product_attention(
            q, k, v, mask=mask, scale=1.0 / math.sqrt(float(h)),
            dropout=self.dropout if training else 0.0, return_attention_scores=True,
            stream=self._stream, zero_masked=explicit, scores_after_dropout=False)
        out = ops.reshape(ops.transpose(ops.reshape(out, (b, u, tq, h)), (0, 2, 1, 3)),
                          (b, tq, u * h))
        if gate is not None:
            out = ops.multiply(out, gate)
        y = self._project(self._output_dense, out)
        if return_attention_scores:
            return y, ops.reshape(scores, (b, u, tq, ts))
        return y

    @staticmethod
    def _project(sub: EinsumDense, x: Tensor) -> Tensor:
        """``sub``'s einsum (its kernel's leading axes contracted with ``x``'s last) as one
        fused dense op on the flattened kernel, with its activation and activity penalty."""
        kernel, bias = sub.kernel, sub.bias
        n_in = x.shape[-1]
        n_out = kernel.data.size // n_in
        y = ops.dense(x, ops.reshape(kernel, (n_in, n_out)),
                      None if bias is None else ops.reshape(bias, (n_out,)))
        if sub.activation is not activations.linear:
            y = sub.activation(y)
        if sub.activity_regularizer is not None:
            sub._activity_losses = [sub.activity_regularizer(y) / y.shape[0]]
        return y

    def compute_output_shape(self, query_shape: Any, value_shape: Any = None,
                             key_shape: Any = None) -> tuple:
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        if query_shape[-1] != value_shape[-1]:
            raise ValueError("The last dimension of `query_shape` and `value_shape` must be "
                             f"equal, but are {query_shape[-1]}, {value_shape[-1]}. Received: "
                             f"query_shape={tuple(query_shape)}, "
                             f"value_shape={tuple(value_shape)}")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError("All dimensions of `value` and `key`, except the last one, must "
                             f"be equal. Received: value_shape={tuple(value_shape)} and "
                             f"key_shape={tuple(key_shape)}")
        return tuple(query_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query mask passes on to the output."""
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "head_dim": self.head_dim,
                "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "sliding_window": self.sliding_window,
                "dropout": self.dropout,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "seed": self.seed}


GroupQueryAttention = GroupedQueryAttention
