"""Input handling shared by the attention layers (masks, symbolic shapes)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.layers.layer import Layer
from gpunet.layers.node import is_symbolic, symbolic_call


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


def qvk_inputs(layer: Layer, label: str, call: str, query: Any, value: Any, key: Any,
               kwargs: dict) -> tuple:
    """``(query, value, key)`` of a multi-head attention call (also given as Keras 3's node
    list ``[query, value(, key)]``); refuses other call arguments and a missing value."""
    kwargs.pop("mask", None)
    if kwargs:
        raise TypeError(f"Layer '{layer.name}' ({label}) got unexpected call arguments "
                        f"{sorted(kwargs)}.")
    if value is None and isinstance(query, (list, tuple)) and 2 <= len(query) <= 3:
        query, value, key = (list(query) + [None])[:3]
    if value is None:
        raise ValueError(f"Layer '{layer.name}' ({label}) expects `query` and `value` tensors: "
                         f"call it as {call}(query, value) or {call}(query, value, key). "
                         f"Received only query of type {type(query).__name__}.")
    return query, value, key


def qvk_symbolic_call(layer: Layer, query: Any, value: Any, key: Any, masks: tuple,
                      attention_mask: Any, training: Any, return_attention_scores: bool,
                      use_causal_mask: bool, check: Any = None) -> Any:
    """The Functional-API call of a multi-head attention layer when any of its tensors or
    masks (``masks``: query, value, key) is symbolic, recording them all in the node (after
    ``check(query_shape, value_shape, key_shape)`` and the build); None otherwise."""
    if not any(is_symbolic(t) for t in (query, value, key, attention_mask, *masks)):
        return None
    shapes = (query.shape, value.shape, _symbolic_shape(key))
    if check is not None:
        check(*shapes)
    if not layer.built:
        layer.build(*shapes)
        layer.input_shape_ = tuple(query.shape)
    kw = {"value": value, "key": key, "query_mask": masks[0], "value_mask": masks[1],
          "key_mask": masks[2], "attention_mask": attention_mask,
          "return_attention_scores": return_attention_scores, "use_causal_mask": use_causal_mask}
    return symbolic_call(layer, query, training,
                         {k: v for k, v in kw.items() if v is not None and v is not False})


def qvk_eager_inputs(layer: Layer, query: Any, value: Any, key: Any, masks: tuple) -> tuple:
    """``(masks, q, v, k)`` of an eager multi-head attention call: the given masks or the
    tensors' Keras masks, the tensors on the layer's backend and dtype; builds the layer."""
    masks = [m if m is not None else getattr(t, "_keras_mask", None)
             for m, t in zip(masks, (query, value, key))]
    q, v, k = (_as_input(layer, t) for t in (query, value, key))
    if not layer.built:
        layer.build((None,) + tuple(q.shape[1:]), (None,) + tuple(v.shape[1:]),
                    None if k is None else (None,) + tuple(k.shape[1:]))
        layer.input_shape_ = (None,) + tuple(q.shape[1:])
    return masks, q, v, k


# -- Luong / Bahdanau ---------------------------------------------------------------------------
