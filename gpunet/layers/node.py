"""The symbolic graph of the Functional API: ``KerasTensor``, ``Node`` and ``symbolic_call``.

Calling a layer on ``KerasTensor`` s (what ``Input`` returns) computes nothing: it builds the
layer for the input shapes, records a ``Node`` (the layer, its input tensors and its output
tensors) in ``layer._inbound_nodes``, and returns new ``KerasTensor`` s with the shapes of
``compute_output_shape``. Every ``KerasTensor`` keeps its history ``(layer, node_index,
tensor_index)``, as in Keras, from which ``Functional`` models rebuild the graph.

``KerasTensor`` itself lives in ``keras_tensor.py``. Operators on ``KerasTensor`` s (``x * 2``,
``1 - x``, ``x > 0``, ``x[:, 0]``) and ``gpunet.ops`` functions called on them record
``OpLambda`` layers (``gpunet/layers/lambda_layer.py``): this module
installs the hook that ``gpunet/ops/_symbolic.py`` calls.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.layers.input_spec import assert_input_compatibility
from gpunet.layers.keras_tensor import KerasTensor
from gpunet.ops import _symbolic


class Node:
    """One call of a layer inside the symbolic graph.

    Args:
        layer: the layer that was called.
        call_args: the first argument of the call (a KerasTensor, or a list/tuple/dict of them).
        call_kwargs: the other keyword arguments (may hold KerasTensors, e.g. ``initial_state``).
        outputs: the output KerasTensors (a flat list).
    """

    def __init__(self, layer: Any, call_args: Any, call_kwargs: dict, outputs: list) -> None:
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.input_tensors = flatten(call_args) + flatten(list(call_kwargs.values()))
        self.outputs = list(outputs)
        nodes = inbound_nodes(layer)
        self.index = len(nodes)
        nodes.append(self)
        for i, t in enumerate(self.outputs):
            t._keras_history = (layer, self.index, i)

    @property
    def parent_nodes(self) -> list[Node]:
        return [t.node for t in self.input_tensors]

    @property
    def is_input(self) -> bool:
        return not self.input_tensors


def inbound_nodes(layer: Any) -> list[Node]:
    """The layer's list of nodes (created on first use)."""
    nodes = layer.__dict__.get("_inbound_nodes")
    if nodes is None:
        nodes = layer.__dict__["_inbound_nodes"] = []
    return nodes


def flatten(structure: Any) -> list[KerasTensor]:
    """The KerasTensors in a (nested) list/tuple/dict, in order (dicts by sorted key)."""
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, (list, tuple)):
        return [t for s in structure for t in flatten(s)]
    if isinstance(structure, dict):
        return [t for k in sorted(structure) for t in flatten(structure[k])]
    return []


def is_symbolic(inputs: Any) -> bool:
    """Whether ``inputs`` is a KerasTensor or a list/tuple/dict holding one."""
    if getattr(inputs, "_is_keras_tensor", False):
        return True
    if isinstance(inputs, (list, tuple)):
        return any(is_symbolic(x) for x in inputs)
    if isinstance(inputs, dict):
        return any(is_symbolic(x) for x in inputs.values())
    return False


def _shapes(structure: Any) -> Any:
    if isinstance(structure, KerasTensor):
        return structure.shape
    if isinstance(structure, (list, tuple)):
        return [_shapes(s) for s in structure]
    if isinstance(structure, dict):
        return {k: _shapes(v) for k, v in structure.items()}
    return structure


def _is_shape_list(s: Any) -> bool:
    return isinstance(s, (list, tuple)) and len(s) > 0 and all(
        isinstance(e, (list, tuple)) for e in s)


def _zeros_like(structure: Any, fill: int) -> Any:
    from gpunet.backend import get_backend

    if isinstance(structure, KerasTensor):
        shape = tuple(fill if s is None else s for s in structure.shape)
        return Tensor(get_backend().xp.zeros(shape, structure.dtype))
    if isinstance(structure, (list, tuple)):
        return [_zeros_like(s, fill) for s in structure]
    if isinstance(structure, dict):
        return {k: _zeros_like(v, fill) for k, v in structure.items()}
    return structure


def _ones_mask(mask: KerasTensor, fill: int) -> Any:
    from gpunet.backend import get_backend

    return get_backend().xp.ones(tuple(fill if s is None else s for s in mask.shape), bool)


def _run_specs(layer: Any, args: Any, kwargs: dict) -> tuple[list, list, bool]:
    """Output shapes and dtypes found by running the layer on zeros of the inputs' dtypes
    twice (unknown sizes 2, then 3): the sizes that change between the runs are unknown
    (``None``). Returns the list of shapes, the list of dtype names, and whether the layer
    returned a list."""
    runs = []
    import numpy as np

    from gpunet.layers.layer_support import call_args

    # a layer whose call takes `mask` gets one when the symbolic input will carry one, as in
    # Keras 3's symbolic call (the keras.io masking guide's TemporalSoftmax asserts it has one)
    mask = (args._keras_mask if isinstance(args, KerasTensor) and "mask" not in kwargs
            and call_args(type(layer))[1] else None)
    for fill in (2, 3):
        x = _zeros_like(args, fill)
        if mask is not None:
            x._keras_mask = _ones_mask(mask, fill)
        with no_grad(), np.errstate(all="ignore"):  # log(0), 1/0 on the zeros are harmless
            out = layer(x, training=False,
                        **{k: _zeros_like(v, fill) for k, v in kwargs.items()})
        outs = out if isinstance(out, (list, tuple)) else [out]
        runs.append([tuple(o.shape) for o in outs])
    shapes = []
    for a, b in zip(*runs):
        shapes.append(tuple(x if x == y else None for x, y in zip(a, b)))
    dtypes = [str(o.dtype) for o in outs]
    return shapes, dtypes, isinstance(out, (list, tuple))


def _run_shapes(layer: Any, args: Any, kwargs: dict) -> Any:
    shapes, _, is_list = _run_specs(layer, args, kwargs)
    return shapes if len(shapes) > 1 or is_list else shapes[0]


def output_shapes(layer: Any, args: Any, kwargs: dict) -> Any:
    """The layer's output shape(s) for symbolic ``args``: ``compute_output_shape`` when the
    layer defines it, else a trial run on zeros."""
    from gpunet.layers.layer import Layer

    in_shape = _shapes(args)
    if type(layer).compute_output_shape is not Layer.compute_output_shape and not kwargs:
        try:
            return layer.compute_output_shape(in_shape)
        except NotImplementedError:
            pass
    return _run_shapes(layer, args, kwargs)


def _check_input(layer: Any, args: Any) -> None:
    spec = getattr(layer, "input_spec", None)
    if spec is not None:
        assert_input_compatibility(spec, args, layer.name)
    if isinstance(args, KerasTensor):
        try:
            layer._check_input(args)
        except (AttributeError, TypeError):  # a check that needs values, not shapes
            pass


def symbolic_call(layer: Any, args: Any, training: Any = None, kwargs: dict | None = None) -> Any:
    """Calls ``layer`` on KerasTensors: builds it, records a ``Node``, returns KerasTensors."""
    kwargs = dict(kwargs or {})
    if kwargs.get("mask") is None:
        kwargs.pop("mask", None)  # implicit masks flow with the values when the model runs
    # an explicit `mask=` (a KerasTensor such as a model input, or an array) stays in the
    # node, as in Keras, and reaches the layer when the model runs; shapes come without it
    if training is not None:
        # as Keras 3: kept in the node, used when the model runs with training=None (a
        # direct call), overridden by fit / predict / an explicit training argument
        kwargs["training"] = training
    shape_kwargs = {k: v for k, v in kwargs.items() if k not in ("mask", "training")}
    if isinstance(args, tuple):
        args = list(args)
    if not layer.built:
        if getattr(layer, "input_spec", None) is not None:  # before build, as Keras does
            assert_input_compatibility(layer.input_spec, args, layer.name)
        in_shape = _shapes(args)
        layer.build(in_shape)
        layer.built = True
        layer.input_shape_ = in_shape
    _check_input(layer, args)
    dtypes = None
    if getattr(layer, "_infers_dtype", False):  # an op: shapes and dtypes from a trial run
        shape_list, dtypes, is_list = _run_specs(layer, args, shape_kwargs)
        multi = len(shape_list) > 1 or is_list
    else:
        shapes = output_shapes(layer, args, shape_kwargs)
        multi = _is_shape_list(shapes)
        shape_list = [tuple(s) for s in shapes] if multi else [tuple(shapes)]
    dtype = getattr(layer, "dtype", None) or "float32"
    if getattr(layer, "_keeps_input_dtype", False):
        dtype = flatten(args)[0].dtype
    dtypes = dtypes or [dtype] * len(shape_list)
    n = len(inbound_nodes(layer))
    outs = [KerasTensor(s, dtypes[i], layer.name if (n == 0 and len(shape_list) == 1) else
                        f"{layer.name}_{n}_{i}") for i, s in enumerate(shape_list)]
    Node(layer, args, kwargs, outs)
    if layer.input_shape_ is None:
        layer.input_shape_ = _shapes(args)
    if getattr(layer, "output_shape_", None) is None:
        layer.output_shape_ = list(shape_list) if multi else shape_list[0]
    return outs if multi else outs[0]


def input_tensor(input_layer: Any) -> KerasTensor:
    """The KerasTensor of an InputLayer (its node 0), created on first use."""
    nodes = inbound_nodes(input_layer)
    if nodes:
        return nodes[0].outputs[0]
    t = KerasTensor(input_layer.batch_shape, input_layer.dtype, input_layer.name)
    Node(input_layer, [], {}, [t])
    return t


# -- Layer.input / Layer.output ----------------------------------------------------------------
def _node_value(node: Node, which: str) -> Any:
    if which == "output":
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)
    args = node.call_args
    if not node.input_tensors:  # an InputLayer: its input is its output
        return node.outputs[0]
    return args


def layer_io(layer: Any, which: str) -> Any:
    """``layer.input`` / ``layer.output``: the tensors of its only node (Keras's rule)."""
    nodes = inbound_nodes(layer)
    if not nodes:
        raise AttributeError(f"Layer '{layer.name}' has never been called and thus has no "
                             f"defined {which}.")
    if len(nodes) > 1:
        raise AttributeError(f"Layer '{layer.name}' has multiple inbound nodes, hence the "
                             f"notion of 'layer {which}' is ill-defined. Use "
                             f"`get_{which}_at(node_index)` instead.")
    return _node_value(nodes[0], which)


def layer_io_at(layer: Any, node_index: int, which: str) -> Any:
    """``layer.get_output_at(i)`` / ``get_input_at(i)``."""
    nodes = inbound_nodes(layer)
    if not 0 <= node_index < len(nodes):
        raise ValueError(f"Asked to get {which} at node {node_index}, but layer "
                         f"'{layer.name}' has only {len(nodes)} inbound node(s).")
    return _node_value(nodes[node_index], which)


def _record_op(name: str, args: tuple, kwargs: dict) -> Any:
    from gpunet.layers.lambda_layer import op_call

    return op_call(name, args, kwargs)


_symbolic.install(KerasTensor, _record_op)  # gpunet.ops functions accept KerasTensors
