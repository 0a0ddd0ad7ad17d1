"""Functional model configs (Keras 2 layout) and ``clone_model`` for Functional models.

Config layout, as tf.keras 2 writes it::

    {"name": "model", "trainable": true,
     "layers": [{"class_name": "Dense", "config": {...}, "name": "dense",
                 "inbound_nodes": [[["input_1", 0, 0, {}]]]}, ...],
     "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}

Each inbound node is the list of ``[layer_name, node_index, tensor_index, kwargs]`` of its
inputs; node indices count only the nodes that belong to this model. Keras 3's node form
(``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__`` entries) is read too.
"""

from __future__ import annotations

from typing import Any

from gpunet.deserialization import deserialize_layer
from gpunet.layers.node import KerasTensor, input_tensor


def _node_keys(model) -> dict[int, int]:
    """``id(node) -> index among the layer's nodes that belong to this model``."""
    from gpunet.layers.node import inbound_nodes

    in_model = {id(n) for n in model._nodes} | {id(t.node) for t in model.inputs}
    keys = {}
    for layer in model.layers:
        k = 0
        for node in inbound_nodes(layer):
            if id(node) in in_model:
                keys[id(node)] = k
                k += 1
    return keys


def _ref(t: KerasTensor, keys: dict) -> list:
    layer, _, tensor_index = t._keras_history
    return [layer.name, keys[id(t.node)], tensor_index]


def _kwargs_config(kwargs: dict, keys: dict) -> dict:
    def conv(v):
        if isinstance(v, KerasTensor):
            return _ref(v, keys)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return {k: conv(v) for k, v in kwargs.items()}


def _nested_refs(structure: Any, keys: dict) -> Any:
    if isinstance(structure, dict):
        return {k: _ref(v, keys) for k, v in structure.items()}
    if isinstance(structure, list):
        return [_ref(t, keys) for t in structure]
    return [_ref(structure, keys)]


def functional_config(model) -> dict:
    """``model.get_config()`` for a Functional model (Keras 2 layout)."""
    from gpunet.registry import serialize

    keys = _node_keys(model)
    in_model = set(keys)
    layers = []
    for layer in model.layers:
        entry = serialize(layer) if not _is_input(layer) else {
            "class_name": "InputLayer", "config": layer.get_config()}
        entry["name"] = layer.name
        nodes = []
        for node in layer.__dict__.get("_inbound_nodes", []):
            if id(node) not in in_model or node.is_input:
                continue
            args = node.call_args
            refs = [_ref(t, keys) for t in ([args] if isinstance(args, KerasTensor)
                                            else _flat_args(args))]
            kw = _kwargs_config(node.call_kwargs, keys)
            nodes.append([r + [kw] for r in refs])
        entry["inbound_nodes"] = nodes
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": _nested_refs(model._nested_inputs, keys),
            "output_layers": _nested_refs(model._nested_outputs, keys)}


def _flat_args(args: Any) -> list:
    from gpunet.layers.node import flatten

    return flatten(args)


def _is_input(layer) -> bool:
    from gpunet.layers.core import InputLayer

    return isinstance(layer, InputLayer)


# -- reading ----------------------------------------------------------------------------------
def _k3_history(v: Any) -> list | None:
    if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
        h = v["config"]["keras_history"]
        return [h[0], int(h[1]), int(h[2])]
    return None


def _k3_refs(v: Any) -> Any:
    """Keras 3 tensor entries at any depth of a call argument (``mask=[None, tensor]``) as
    Keras 2 references ``[layer, node, tensor]``."""
    h = _k3_history(v)
    if h is not None:
        return h
    if isinstance(v, list):
        return [_k3_refs(x) for x in v]
    return v


def _refs_in(v: Any) -> list:
    """The tensor references at any depth of a call argument."""
    if _is_ref(v):
        return [v]
    if isinstance(v, list):
        return [r for x in v for r in _refs_in(x)]
    return []


def _node_refs(node: Any) -> tuple[list, dict, bool]:
    """``(refs, kwargs, as_list)`` of one inbound node, Keras 2 or Keras 3 form."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        args = node.get("args", [])
        first = args[0] if len(args) == 1 else args
        if isinstance(first, list):
            refs = [_k3_history(a) for a in first]
            as_list = True
        else:
            refs = [_k3_history(first)]
            as_list = False
        if any(r is None for r in refs):
            raise ValueError(f"Unsupported inbound node arguments: {node!r}")
        kwargs = {k: _k3_refs(v) for k, v in (node.get("kwargs") or {}).items()}
        return refs, kwargs, as_list
    refs, kwargs = [], {}
    for entry in node:
        refs.append([entry[0], int(entry[1]), int(entry[2])])
        if len(entry) > 3 and entry[3]:
            kwargs = dict(entry[3])
    return refs, kwargs, len(refs) > 1


def _is_ref(v: Any) -> bool:
    return (isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
            and isinstance(v[1], int) and isinstance(v[2], int))


class _KerasOp:
    """A Keras 3 operation node of a saved graph (``{"module": "keras.src.ops.numpy",
    "class_name": "NotEqual", ...}``: Keras records the ops run on symbolic tensors, such as
    the ``not_equal`` that makes ``Embedding(mask_zero=True)``'s mask), rebuilt as the gpunet
    op of the same name recorded on the rebuilt tensors."""

    def __init__(self, entry: dict) -> None:
        import re

        cls_name = entry.get("class_name", "")
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower()
        module = str(entry.get("module", ""))
        self.op = ("image." + name) if module.endswith(".image") else name
        # the operation's own arguments (Sum(axis=...)); None ones are the defaults
        self.kwargs = {k: v for k, v in (entry.get("config") or {}).items()
                       if k != "name" and v is not None}
        self.name = entry.get("name") or (entry.get("config") or {}).get("name", name)

    def exists(self) -> bool:
        """Whether gpunet.ops has the operation."""
        from gpunet.layers.lambda_layer import public_op

        return public_op(self.op) is not None

    def __call__(self, args: list, kwargs: dict) -> Any:
        from gpunet.layers.lambda_layer import op_call

        if not self.exists():
            raise ValueError(f"The saved model's operation node '{self.name}' runs Keras's "
                             f"`keras.ops.{self.op}`, which gpunet.ops does not have.")
        args = [_k3_value(a) for a in args]
        if self.op == "get_item" and len(args) > 1 and isinstance(args[1], list):
            args[1] = tuple(args[1])  # Keras's GetItem: a list key is the tuple x[a, b]
        return op_call(self.op, tuple(args),
                       {k: _k3_value(v) for k, v in {**self.kwargs, **kwargs}.items()})


def _k3_value(v: Any) -> Any:
    """Keras 3's serialized Python values in an operation's arguments: ``__slice__``,
    ``__ellipsis__``, ``__tuple__`` and constant ``__tensor__``/``__numpy__`` entries, at any
    depth."""
    if isinstance(v, dict):
        kind, cfg = v.get("class_name"), v.get("config") or {}
        if kind == "__slice__":
            return slice(cfg.get("start"), cfg.get("stop"), cfg.get("step"))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind == "__tuple__":
            return tuple(_k3_value(x) for x in cfg.get("value", []))
        if kind in ("__tensor__", "__numpy__"):  # a constant array (computed eagerly)
            import numpy as np

            return np.asarray(cfg.get("value"), dtype=cfg.get("dtype") or None)
        return v
    if isinstance(v, list):
        return [_k3_value(x) for x in v]
    return v


def _is_keras_op(entry: dict) -> bool:
    module = str(entry.get("module") or "")
    return module.startswith(("keras.src.ops.", "keras.ops"))


def _layer_or_op(entry: dict, custom_objects: dict | None) -> Any:
    """The layer of a config entry, or a Keras 3 operation node: named by its module in
    ``.keras`` files; in Keras 3's ``.h5`` files known by a config without the ``trainable``
    that every layer's has, and Keras 3 (dict) inbound nodes (``Multiply`` may be either)."""
    if _is_keras_op(entry):
        return _KerasOp(entry)
    nodes = entry.get("inbound_nodes") or []
    if ("module" not in entry and nodes and all(isinstance(n, dict) for n in nodes)
            and "trainable" not in (entry.get("config") or {})):
        op = _KerasOp(entry)
        if op.exists():
            return op
    return deserialize_layer(entry, custom_objects)


def functional_from_config(cls, config: dict, custom_objects: dict | None = None):
    """Rebuilds a Functional model (fresh weights) from ``functional_config`` output."""
    created: dict[str, Any] = {}
    outputs: dict[tuple[str, int], list] = {}
    pending: dict[str, list] = {}
    order = []
    for lc in config["layers"]:
        layer = _layer_or_op(lc, custom_objects)
        name = lc.get("name") or layer.name
        if name in created:
            raise ValueError(f'The name "{name}" is used 2 times in the model config. All '
                             "layer names should be unique.")
        created[name] = layer
        order.append(name)
        if _is_input(layer):
            outputs[(name, 0)] = [input_tensor(layer)]
        pending[name] = list(lc.get("inbound_nodes") or [])
    done = {name: (1 if _is_input(created[name]) else 0) for name in order}

    def tensor(ref):
        return outputs[(ref[0], ref[1])][ref[2]]

    def ready(ref):
        return (ref[0], ref[1]) in outputs

    def resolve(v):  # the tensors a call argument refers to, at any depth
        if _is_ref(v):
            return tensor(v)
        if isinstance(v, list) and _refs_in(v):
            return [resolve(x) for x in v]
        return v

    while any(pending.values()):
        progress = False
        for name in order:
            if isinstance(created[name], _KerasOp):  # its node: tensors and constants
                while pending[name]:
                    node = pending[name][0]
                    args = _k3_refs(list(node.get("args", [])))
                    kwargs = {k: _k3_refs(v) for k, v in (node.get("kwargs") or {}).items()}
                    if not all(ready(r) for r in _refs_in(args) + _refs_in(list(kwargs.values()))):
                        break
                    out = created[name](resolve(args), {k: resolve(v) for k, v in kwargs.items()})
                    outputs[(name, done[name])] = out if isinstance(out, list) else [out]
                    done[name] += 1
                    pending[name].pop(0)
                    progress = True
                continue
            while pending[name]:
                refs, kwargs, as_list = _node_refs(pending[name][0])
                kw_refs = [r for v in kwargs.values() for r in _refs_in(v)]
                if not all(ready(r) for r in refs + kw_refs):
                    break
                args = [tensor(r) for r in refs]
                kw = {k: resolve(v) for k, v in kwargs.items()}
                out = created[name](args if as_list else args[0], **kw)
                outputs[(name, done[name])] = out if isinstance(out, list) else [out]
                done[name] += 1
                pending[name].pop(0)
                progress = True
        if not progress:
            stuck = [n for n in order if pending[n]]
            raise ValueError(f"Cannot rebuild the Functional model '{config.get('name')}': the "
                             f"inbound nodes of layers {stuck} refer to layers or nodes that "
                             "do not exist.")

    def nested(spec):
        if isinstance(spec, dict):
            return {k: tensor(v) for k, v in spec.items()}
        if _is_ref(spec):
            return tensor(spec)
        if len(spec) == 1:
            return tensor(spec[0])
        return [tensor(r) for r in spec]

    def refs_of(spec):
        if isinstance(spec, dict):
            return {k: [v[0], int(v[1]), int(v[2])] for k, v in spec.items()}
        if spec and isinstance(spec[0], str):
            return [spec[0], int(spec[1]), int(spec[2])]
        return [[r[0], int(r[1]), int(r[2])] for r in spec]

    inputs = nested(refs_of(config["input_layers"]))
    outs = nested(refs_of(config["output_layers"]))
    if isinstance(config["output_layers"], list) and len(config["output_layers"]) > 1 \
            and not isinstance(config["output_layers"][0], str):
        outs = outs if isinstance(outs, list) else [outs]
    model = cls(inputs=inputs, outputs=outs, name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model


# -- clone_model ------------------------------------------------------------------------------
def clone_functional(model, input_tensors: Any = None, clone_function: Any = None):
    """A new Functional model with the same graph and new layers (fresh weights)."""
    import copy

    from gpunet.layers.core import Input
    from gpunet.models.functional import Functional
    from gpunet.models.model import Model

    def default(layer):
        from gpunet.layers.lambda_layer import Lambda

        if isinstance(layer, Model):
            from gpunet.models import clone_model

            return clone_model(layer)
        if type(layer) is Lambda:  # shares the function: a closure need not be serializable
            return layer.clone()
        return type(layer).from_config(copy.deepcopy(layer.get_config()))

    fn = clone_function or default
    new_t: dict[int, Any] = {}
    if input_tensors is not None:
        given = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(given) != len(model.inputs):
            raise ValueError(f"clone_model: the model has {len(model.inputs)} inputs, but "
                             f"{len(given)} input_tensors were given.")
        for old, new in zip(model.inputs, given):
            new_t[id(old)] = new
    for old in model.inputs:
        if id(old) not in new_t:
            src = old._keras_history[0]
            new_t[id(old)] = Input(batch_shape=src.batch_shape, dtype=src.dtype, name=src.name)
    new_layers: dict[int, Any] = {}

    def conv(s):
        if isinstance(s, KerasTensor):
            return new_t[id(s)]
        if isinstance(s, (list, tuple)):
            return [conv(x) for x in s]
        if isinstance(s, dict):
            return {k: conv(v) for k, v in s.items()}
        return s

    for node in model._nodes:
        layer = node.layer
        if id(layer) not in new_layers:
            new = fn(layer)
            if new is layer and clone_function is None:
                raise ValueError(f"clone_function returned the original layer '{layer.name}'.")
            new_layers[id(layer)] = new
        out = new_layers[id(layer)](conv(node.call_args),
                                    **{k: conv(v) for k, v in node.call_kwargs.items()})
        outs = out if isinstance(out, list) else [out]
        for o, n in zip(node.outputs, outs):
            new_t[id(o)] = n
    return Functional(conv(model._nested_inputs), conv(model._nested_outputs), name=model.name)
