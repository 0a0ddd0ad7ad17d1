"""The mask a ``KerasTensor`` will carry: ``KerasTensor._keras_mask``, as Keras 3 has it.

In Keras 3 a symbolic call computes the output mask symbolically, so ``x._keras_mask`` on a
Functional-API tensor is ``None`` or a boolean ``KerasTensor`` (the keras.io masking guide
prints it). In gpunet masks flow with the values when the model runs; this module answers the
symbolic question from the graph: it walks back through the nodes, passes the first input's
mask on where the layer only propagates it (``supports_masking`` with the default
``compute_mask``), drops it where the layer does not support masking, and asks the layer's own
``compute_mask`` on the symbolic inputs otherwise (``Embedding(mask_zero=True)`` computes
``inputs != 0``). A ``compute_mask`` that needs values (not shapes) is taken to give a mask
of the output's shape without its last axis, the shape every mask-making layer of Keras
gives for a sequence.
"""

from __future__ import annotations

from typing import Any

from gpunet.layers.keras_tensor import KerasTensor


def _as_symbolic(mask: Any, like: KerasTensor) -> KerasTensor | None:
    """A computed mask as a boolean KerasTensor (``None`` stays ``None``)."""
    if mask is None or isinstance(mask, KerasTensor):
        return mask
    shape = getattr(mask, "shape", None)
    if shape is None:
        return KerasTensor(like.shape[:-1], "bool")
    return KerasTensor(tuple(like.shape[:len(shape)]), "bool")


def _first_arg_mask(call_args: Any) -> Any:
    if isinstance(call_args, KerasTensor):
        return symbolic_mask(call_args)
    if isinstance(call_args, (list, tuple)):
        return [symbolic_mask(t) if isinstance(t, KerasTensor) else None for t in call_args]
    return None


def _layer_mask(layer: Any, call_args: Any, out: KerasTensor, index: int) -> Any:
    previous = _first_arg_mask(call_args)
    if getattr(type(layer).compute_mask, "_default_mask", False):
        if not getattr(layer, "supports_masking", False):
            return None
        return previous if isinstance(call_args, KerasTensor) else None
    try:
        mask = layer.compute_mask(call_args, previous)
    except Exception:  # a compute_mask that reads values: a mask of the sequence axes
        return KerasTensor(out.shape[:-1], "bool") if out.ndim > 1 else None
    if isinstance(mask, (list, tuple)):
        mask = mask[index] if index < len(mask) else None
    return _as_symbolic(mask, out)


def symbolic_mask(t: KerasTensor) -> KerasTensor | None:
    """``None`` or the boolean ``KerasTensor`` mask that ``t``'s values will carry.

    Args:
        t: a KerasTensor of the Functional API.

    Returns:
        The mask (computed once per tensor, then kept) or ``None``.
    """
    cached = t.__dict__.get("_symbolic_mask", False)
    if cached is not False:
        return cached
    mask = None
    history = t._keras_history
    if history is not None:
        layer, node_index, tensor_index = history
        node = layer._inbound_nodes[node_index]
        if node.input_tensors:  # not an Input
            mask = _layer_mask(layer, node.call_args, t, tensor_index)
    t.__dict__["_symbolic_mask"] = mask
    return mask
