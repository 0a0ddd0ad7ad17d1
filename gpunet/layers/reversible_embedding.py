"""``ReversibleEmbedding``: an embedding that can also project hidden states back to the
vocabulary (tied or separate weights), as Keras 3.15 has it."""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.layers.embedding import Embedding
from gpunet.layers.layer import shape_str
from gpunet.registry import register


@register("layer")
class ReversibleEmbedding(Embedding):
    """An ``Embedding`` that can be called "in reverse" to give logits over the vocabulary.

    ``layer(ids)`` looks the ids up as ``Embedding`` does; ``layer(hidden, reverse=True)``
    computes ``hidden @ embeddingsᵀ`` (weights "tied", the default) or ``hidden @
    reverse_embeddings`` (``tie_weights=False``), optionally soft-capped as
    ``tanh(logits / logit_soft_cap) * logit_soft_cap``. There is no bias.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each embedding vector.
        tie_weights: whether the reverse projection uses the transposed embeddings (True) or a
            separate trainable ``reverse_embeddings`` ``(output_dim, input_dim)``.
        embeddings_initializer: default ``"uniform"``; also initializes
            ``reverse_embeddings``.
        embeddings_regularizer, embeddings_constraint: on the embeddings.
        mask_zero: id 0 is padding: the forward call's output carries the mask ``ids != 0``
            (the reverse call's output carries none).
        reverse_dtype: dtype the reverse projection is computed in (default: the layer's
            compute dtype).
        logit_soft_cap: None, or a float ``c``: reverse logits become ``tanh(logits / c) * c``.
        **kwargs: ``Embedding``'s other arguments (``activity_regularizer``, ``name``,
            ``dtype``, ``trainable``).

    Call arguments:
        inputs: integer ids, or with ``reverse=True`` hidden states ``(..., output_dim)``.
        reverse: project back to the vocabulary instead of looking ids up.

    Input shape:
        ``(batch, ...)`` ids, or ``(batch, ..., output_dim)`` with ``reverse=True``.

    Output shape:
        ``(batch, ..., output_dim)``, or ``(batch, ..., input_dim)`` with ``reverse=True``.

    Returns:
        The embeddings, or the logits.

    Example:

    >>> embedding = ReversibleEmbedding(100, 32)
    >>> hidden = embedding(np.random.randint(100, size=(16, 50)))
    >>> embedding(hidden, reverse=True).shape
    (16, 50, 100)
    """

    def __init__(self, input_dim: int, output_dim: int, tie_weights: bool = True,
                 embeddings_initializer: Any = "uniform", embeddings_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False,
                 reverse_dtype: Any = None, logit_soft_cap: float | None = None,
                 **kwargs: Any) -> None:
        self.tie_weights = bool(tie_weights)
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, bool) or not isinstance(
                logit_soft_cap, (int, float)) or logit_soft_cap <= 0):
            raise ValueError(f"Layer '{self.name}' (ReversibleEmbedding): `logit_soft_cap` must "
                             f"be None or a positive number. Received: "
                             f"logit_soft_cap={logit_soft_cap!r}")
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap
        self._reverse_call = False

    def build(self, input_shape: Any = None) -> None:
        if self.built:
            return
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                "reverse_embeddings", (self.output_dim, self.input_dim),
                self.embeddings_initializer)
        self.built = True

    def call(self, inputs: Any, reverse: bool = False) -> Any:
        self.__dict__["_reverse_call"] = bool(reverse)
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"Layer '{self.name}' (ReversibleEmbedding) called with "
                             f"reverse=True expects inputs whose last dimension is "
                             f"output_dim={self.output_dim}. Received: inputs of shape "
                             f"{shape_str(inputs.shape)}")
        kernel = (ops.transpose(self.embeddings) if self.tie_weights
                  else self.reverse_embeddings)
        if self.reverse_dtype is not None:
            inputs = ops.cast(inputs, self.reverse_dtype)
            kernel = ops.cast(kernel, self.reverse_dtype)
        logits = ops.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = ops.multiply(ops.tanh(ops.divide(logits, cap)), cap)
        return logits

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The forward call's mask (``mask_zero``); none after a reverse call, as Keras."""
        if self.__dict__.get("_reverse_call"):
            return None
        return super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape: Any, reverse: bool = False) -> tuple:
        if reverse:
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        return {**super().get_config(), "tie_weights": self.tie_weights,
                "reverse_dtype": self.reverse_dtype, "logit_soft_cap": self.logit_soft_cap}
