"""Attention layers: ``Attention`` (Luong), ``AdditiveAttention`` (Bahdanau) and
``MultiHeadAttention``, written once against the backend.

The dot-product paths run the fused ``gpunet.ops.scaled_dot_product_attention`` node; the
``"concat"`` and additive scores are built from ``gpunet.ops``. These layers take several
tensors, so they override ``__call__`` (as the merge layers do): ``Attention`` takes a list
``[query, value(, key)]``, ``MultiHeadAttention`` takes ``(query, value, key=None)``; both work
eagerly and on ``KerasTensor`` s in a Functional model, where ``value``/``key`` are recorded as
keyword tensors of the node (the tf.keras config layout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet import constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.layers.layer import Layer, shape_str
from gpunet.layers.node import is_symbolic, symbolic_call
from gpunet.ops.attention import causal_mask, large_negative, scaled_dot_product_attention
from gpunet.registry import register


def _as_input(layer: Layer, x: Any) -> Tensor | None:
    """``x`` as a Tensor on the layer's backend and dtype (as ``Layer.__call__`` does)."""
    if x is None:
        return None
    if not isinstance(x, Tensor):
        x = Tensor(layer._backend().asarray(x))
    elif x.creator is None and layer._weights:
        b = backend_of(layer._weights[0].data)
        if backend_of(x.data) is not b:
            x = Tensor(b.asarray(x.data))
    if x.data.dtype.kind == "f" and x.dtype != layer.dtype and x.creator is None:
        x = Tensor(x.data.astype(layer.dtype))
    return x


def _raw_mask(m: Any, like: Tensor) -> Any:
    if m is None:
        return None
    if isinstance(m, Tensor):
        m = m.data
    return backend_of(like.data).asarray(m).astype(bool)


def _symbolic_shape(x: Any) -> Any:
    return None if x is None else tuple(x.shape)


# -- Luong / Bahdanau ---------------------------------------------------------------------------
class _BaseDenseAttention(Layer):
    """Shared call protocol of ``Attention`` and ``AdditiveAttention``."""

    supports_masking = True

    def __init__(self, dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        self.causal = bool(kwargs.pop("causal", False))  # Keras 2 spelling of use_causal_mask
        super().__init__(**kwargs)
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): `dropout` must be a "
                             f"float in [0, 1]. Received: dropout={dropout!r}")
        self.dropout, self.seed = float(dropout), seed
        self._stream = None if seed is None else SeedStream(seed)

    def _validate(self, inputs: Any, mask: Any = None) -> None:
        cls = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({cls}) must be called on a list of inputs, "
                             f"namely [query, value] or [query, value, key]. Received: "
                             f"inputs of type {type(inputs).__name__}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"Layer '{self.name}' ({cls}) accepts an inputs list of length 2 "
                             f"or 3, namely [query, value] or [query, value, key]. Received "
                             f"length: {len(inputs)}.")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"Layer '{self.name}' ({cls}) expects `mask` as a list "
                             f"[query_mask, value_mask]. Received: mask={mask!r}")

    def build(self, input_shape: Any) -> None:
        self._validate(input_shape)
        q, v = input_shape[0], input_shape[1]
        k = input_shape[2] if len(input_shape) > 2 else v
        if len(q) != 3 or len(v) != 3 or len(k) != 3:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects 3-D inputs "
                             "(batch, time, dim). Received shapes "
                             f"{[shape_str(s) for s in input_shape]}.")
        if q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects query and "
                             f"key with the same last dimension. Received query shape "
                             f"{shape_str(q)} and key shape {shape_str(k)}.")
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def __call__(self, inputs: Any, training: bool | None = None, mask: Any = None,
                 return_attention_scores: bool = False, use_causal_mask: bool = False,
                 **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"Layer '{self.name}' ({type(self).__name__}) got unexpected call "
                            f"arguments {sorted(kwargs)}.")
        extra = {k: v for k, v in (("return_attention_scores", return_attention_scores),
                                   ("use_causal_mask", use_causal_mask)) if v}
        if is_symbolic(inputs):
            self._validate(inputs)
            return symbolic_call(self, list(inputs), training, extra)
        self._validate(inputs, mask)
        masks = list(mask) if mask is not None else [getattr(x, "_keras_mask", None)
                                                    for x in inputs]
        xs = [_as_input(self, x) for x in inputs]
        if not self.built:
            shapes = [(None,) + tuple(x.shape[1:]) for x in xs]
            self.build(shapes)
            self.built = True
            self.input_shape_ = shapes
        q_mask = _raw_mask(masks[0], xs[0])
        v_mask = _raw_mask(masks[1], xs[0]) if len(masks) > 1 else None
        out = self.call(xs, mask=[q_mask, v_mask], training=training,
                        return_attention_scores=return_attention_scores,
                        use_causal_mask=use_causal_mask)
        if q_mask is not None:
            (out[0] if isinstance(out, tuple) else out)._keras_mask = q_mask
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query mask (Keras: ``mask[0]``)."""
        if mask is None:
            return None
        return mask[0]

    def _scores_mask(self, xp: Any, tq: int, tv: int, v_mask: Any, causal: bool) -> Any:
        m = None if v_mask is None else v_mask[:, None, :]
        if causal:
            c = causal_mask(xp, tq, tv)[None]
            m = c if m is None else m & c
        return m

    def _apply_scores(self, scores: Tensor, value: Tensor, scores_mask: Any,
                      training: bool | None) -> tuple[Tensor, Tensor]:
        if scores_mask is not None:
            scores = ops.where(scores_mask, scores, large_negative(scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = ops.dropout(weights, self.dropout, None, self._stream)
        return ops.matmul(weights, value), weights

    def _calculate_scores(self, query: Tensor, key: Tensor) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: list, mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask, v_mask = (list(mask) + [None, None])[:2] if mask is not None else (None, None)
        xp = backend_of(q.data).xp
        smask = self._scores_mask(xp, q.shape[1], v.shape[1], v_mask,
                                  use_causal_mask or self.causal)
        if self._fused():
            qs = ops.multiply(q, self.scale) if self.scale is not None else q
            res = scaled_dot_product_attention(
                qs, k, v, mask=smask, scale=1.0, dropout=self.dropout if training else 0.0,
                return_attention_scores=True, stream=self._stream, zero_masked=False,
                scores_after_dropout=True)
            out, weights = res
        else:
            out, weights = self._apply_scores(self._calculate_scores(q, k), v, smask, training)
        if q_mask is not None:
            out = ops.multiply(out, q_mask[:, :, None].astype(out.dtype))
        return (out, weights) if return_attention_scores else out

    def _fused(self) -> bool:
        return False

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "dropout": self.dropout, "seed": self.seed}
        if self.causal:
            cfg["causal"] = True
        return cfg


@register("layer")
class Attention(_BaseDenseAttention):
    """Dot-product attention layer, a.k.a. Luong-style attention.

    Scores ``query · keyᵀ`` (``"dot"``) or ``sum(tanh(query + key))`` (``"concat"``), a
    softmax over the value steps, and the weighted sum of ``value``.

    Args:
        use_scale: if True, a learned scalar ``scale`` multiplies the scores.
        score_mode: ``"dot"`` (default) or ``"concat"``.
        dropout: fraction of the attention weights to drop in training.
        seed: optional int seed of the dropout masks.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]`` (key defaults to value).
        mask: ``[query_mask, value_mask]`` booleans ``(batch, Tq)`` / ``(batch, Tv)``
            (default: the inputs' ``_keras_mask``). Masked values are not attended to;
            outputs at masked query steps are zero.
        return_attention_scores: also return the weights ``(batch, Tq, Tv)`` (after dropout).
        use_causal_mask: query step ``i`` attends only to value steps ``j <= i``.
        training: dropout only when True.

    Input shape:
        query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)``.

    Output shape:
        ``(batch, Tq, dim_v)``.

    Example:

    >>> q, v = Input((4, 8)), Input((6, 8))
    >>> out = Attention()([q, v])
    >>> out.shape
    (None, 4, 8)
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Layer '{self.name}' (Attention): invalid value for argument "
                             "score_mode. Expected one of {'dot', 'concat'}. Received: "
                             f"score_mode={score_mode!r}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.scale = self.concat_score_weight = None

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.use_scale:
            self.scale = self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")
        self.built = True

    def _fused(self) -> bool:
        return self.score_mode == "dot"

    def _calculate_scores(self, query: Tensor, key: Tensor) -> Tensor:
        s = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))
        if self.scale is not None:
            s = ops.multiply(s, self.scale)
        return ops.multiply(ops.sum(ops.tanh(s), axis=-1), self.concat_score_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode}


@register("layer")
class AdditiveAttention(_BaseDenseAttention):
    """Additive attention layer, a.k.a. Bahdanau-style attention.

    Scores ``sum(scale * tanh(query[:, :, None] + key[:, None]), axis=-1)``, a softmax over the
    value steps, and the weighted sum of ``value``.

    Args:
        use_scale: if True (default), a learned vector ``scale`` of size ``dim`` weights the
            ``tanh`` terms (initialised ``glorot_uniform``).
        dropout: fraction of the attention weights to drop in training.
        seed: optional int seed of the dropout masks.

    Call arguments:
        As ``Attention``: ``[query, value(, key)]``, ``mask=[query_mask, value_mask]``,
        ``return_attention_scores``, ``use_causal_mask``, ``training``.

    Input shape:
        query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)``.

    Output shape:
        ``(batch, Tq, dim_v)``.

    Example:

    >>> q, v = Input((4, 8)), Input((6, 8))
    >>> AdditiveAttention()([q, v]).shape
    (None, 4, 8)
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        self.use_scale = bool(use_scale)
        self.scale = None

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.use_scale:
            self.scale = self.add_weight("scale", (input_shape[0][-1],), "glorot_uniform")
        self.built = True

    def _calculate_scores(self, query: Tensor, key: Tensor) -> Tensor:
        t = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        if self.scale is not None:
            t = ops.multiply(t, self.scale)
        return ops.sum(t, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale}


# -- MultiHeadAttention -------------------------------------------------------------------------
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
        kwargs.pop("mask", None)
        if kwargs:
            raise TypeError(f"Layer '{self.name}' (MultiHeadAttention) got unexpected call "
                            f"arguments {sorted(kwargs)}.")
        if value is None and isinstance(query, (list, tuple)) and 2 <= len(query) <= 3:
            query, value, key = (list(query) + [None])[:3]  # Keras 3 node args (query, value)
        if value is None:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) expects `query` and "
                             "`value` tensors: call it as mha(query, value) or mha(query, value, "
                             f"key). Received only query of type {type(query).__name__}.")
        if any(is_symbolic(t) for t in (query, value, key, attention_mask)):
            if not self.built:
                self.build(query.shape, value.shape, _symbolic_shape(key))
                self.input_shape_ = tuple(query.shape)
            kw = {"value": value, "key": key, "attention_mask": attention_mask,
                  "return_attention_scores": return_attention_scores,
                  "use_causal_mask": use_causal_mask}
            return symbolic_call(self, query, training,
                                 {k: v for k, v in kw.items() if v is not None and v is not False})
        masks = [m if m is not None else getattr(t, "_keras_mask", None)
                 for m, t in ((query_mask, query), (value_mask, value), (key_mask, key))]
        q, v, k = (_as_input(self, t) for t in (query, value, key))
        if not self.built:
            self.build((None,) + tuple(q.shape[1:]), (None,) + tuple(v.shape[1:]),
                       None if k is None else (None,) + tuple(k.shape[1:]))
            self.input_shape_ = (None,) + tuple(q.shape[1:])
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
