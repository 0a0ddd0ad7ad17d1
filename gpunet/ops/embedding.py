"""``embedding_lookup``: row gather with a scatter-add backward (the Embedding layer's op)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import xp_of


class EmbeddingLookup(Function):
    """``embeddings[ids]``; the gradient reaches the embeddings only (ids are integers)."""

    def __init__(self, ids: Any) -> None:
        self.ids = ids

    def forward(self, w):
        self.wshape = w.shape
        ids = self.ids
        if getattr(ids, "dtype", None) is not None and ids.dtype.kind in "iu":
            return w.take(ids, axis=0)  # the rows w[ids] gives, with less work per row
        return w[ids]

    def backward(self, gy):
        xp = xp_of(gy)
        out = self.grad_buffer(0)
        if out is None:
            out = xp.zeros(self.wshape, gy.dtype)
        else:
            out.fill(0)
        backend_of(gy).scatter_add_rows(out, self.ids, gy)
        return out


def embedding_lookup(embeddings: Tensor, ids: Any) -> Tensor:
    """Rows ``embeddings[ids]`` for an integer array ``ids`` of any shape.

    Returns a Tensor of shape ``ids.shape + (embeddings.shape[1],)``.
    """
    ids = ids.data if isinstance(ids, Tensor) else ids
    return EmbeddingLookup(ids)(embeddings)
