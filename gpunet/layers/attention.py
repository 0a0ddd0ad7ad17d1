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

from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.layers.attention_support import _as_input, _raw_mask
from gpunet.layers.layer import Layer, shape_str
from gpunet.layers.multi_head_attention import MultiHeadAttention
from gpunet.layers.node import is_symbolic, symbolic_call
from gpunet.ops.attention import causal_mask, large_negative, scaled_dot_product_attention
from gpunet.registry import register

__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]


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
            self._validate(inputs, mask)
            if mask is not None:  # [query_mask, value_mask] tensors belong to the graph
                extra["mask"] = list(mask)
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
