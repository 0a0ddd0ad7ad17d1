"""``embedding_lookup``: row gather with a scatter-add backward (the Embedding layer's op)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import xp_of


def scatter_add_rows(xp: Any, out: Any, ids: Any, values: Any) -> None:
    """``out[ids[k]] += values[k]`` for every k, duplicates accumulated.

    NumPy: ``np.add.at`` on the flattened buffer with element indices (its 1-D fast path is
    about ten times faster than row-wise ``add.at``). CuPy: ``cupy.add.at``, the operation
    behind ``cupyx.scatter_add`` (which CuPy 14 deprecates); it uses atomics, so the
    summation order, and the last bits, vary between runs.
    """
    d = out.shape[-1]
    if xp.__name__ == "numpy":
        idx = ids.reshape(-1, 1).astype(xp.intp) * d + xp.arange(d)
        xp.add.at(out.reshape(-1), idx.reshape(-1), values.reshape(-1))
    else:
        xp.add.at(out, ids.reshape(-1), values.reshape(-1, d))


class EmbeddingLookup(Function):
    """``embeddings[ids]``; the gradient reaches the embeddings only (ids are integers)."""

    def __init__(self, ids: Any) -> None:
        self.ids = ids

    def forward(self, w):
        self.wshape = w.shape
        return w[self.ids]

    def backward(self, gy):
        xp = xp_of(gy)
        out = self.grad_buffer(0)
        if out is None:
            out = xp.zeros(self.wshape, gy.dtype)
        else:
            out.fill(0)
        scatter_add_rows(xp, out, self.ids, gy)
        return out


def embedding_lookup(embeddings: Tensor, ids: Any) -> Tensor:
    """Rows ``embeddings[ids]`` for an integer array ``ids`` of any shape.

    Returns a Tensor of shape ``ids.shape + (embeddings.shape[1],)``.
    """
    ids = ids.data if isinstance(ids, Tensor) else ids
    return EmbeddingLookup(ids)(embeddings)
