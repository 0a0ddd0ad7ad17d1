"""Input handling shared by the attention layers (masks, symbolic shapes)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.layers.layer import Layer


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
    if x.data.dtype.kind == "f" and x.dtype != layer.compute_dtype and x.creator is None:
        x = Tensor(x.data.astype(layer.compute_dtype))
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
