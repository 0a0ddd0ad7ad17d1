"""Keras 3 spelling of model configs, as ``config.json`` in a ``.keras`` archive holds them.

Every object is ``{"module", "class_name", "config", "registered_name"}`` (layers add
``build_config``), dtypes are ``DTypePolicy`` dicts (InputLayer: a plain string), InputLayer
uses ``batch_shape`` and Functional inbound nodes are ``{"args": [...], "kwargs": {...}}``
with ``__keras_tensor__`` entries. The reader (``serialization.deserialize_layer``) accepts
this form and the Keras 2 one.
"""

from __future__ import annotations

from typing import Any

from gpunet.saving.archive_hooks import user_defined

_MODULES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
            "constraint": "keras.constraints"}


def _policy(name: Any) -> dict:
    if isinstance(name, dict):  # a mixed policy, already as Keras 3 writes it
        return name
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name or "float32"},
            "registered_name": None}


def _obj(value: Any, module: str) -> Any:
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        return {"module": module, "class_name": value["class_name"], "config": value["config"],
                "registered_name": None}
    return value


def _registered(layer) -> str | None:
    """None for gpunet's layers; for a user's class its registered ``package>Name`` (what
    Keras 3 looks up), else its class name."""
    from gpunet.registry import _CUSTOM

    cls = type(layer)
    if cls.__module__.startswith("gpunet."):
        return None
    return next((k for k, v in _CUSTOM.items() if v is cls and ">" in k), cls.__name__)


def layer_config(layer, entry: dict) -> dict:
    """Keras 3 form of one ``{"class_name", "config"}`` layer entry of ``layer``."""
    from gpunet.layers.core import InputLayer
    from gpunet.models.model import Model

    if isinstance(layer, Model):
        return model_config(layer)
    cfg = dict(entry.get("config") or {})
    if isinstance(layer, InputLayer):
        if "batch_input_shape" in cfg:
            cfg["batch_shape"] = cfg.pop("batch_input_shape")
    else:
        cfg.pop("batch_input_shape", None)
        if getattr(layer, "_config_has_dtype", True):  # (Keras's Pipeline config has none)
            cfg["dtype"] = _policy(cfg.get("dtype"))
        for key, v in list(cfg.items()):
            kind = key.rsplit("_", 1)[-1]
            if kind in _MODULES:
                cfg[key] = _obj(v, _MODULES[kind])
    out = {"module": "keras.layers", "class_name": entry["class_name"], "config": cfg,
           "registered_name": _registered(layer)}
    shape = getattr(layer, "input_shape_", None)
    shapes = getattr(layer, "_build_shapes", None)  # build(query_shape, value_shape, ...)
    if shapes and not isinstance(layer, InputLayer):
        out["build_config"] = {"shapes_dict": {k: _jsonable(v) for k, v in shapes.items()}}
    elif shape is not None and not isinstance(layer, InputLayer):
        out["build_config"] = {"input_shape": _jsonable(shape)}
    if user_defined(layer, "get_build_config"):  # the user's build arguments (Keras 3)
        build = layer.get_build_config()
        if build is not None:
            out["build_config"] = build
    return out


def _jsonable(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_jsonable(s) for s in shape]
    return None if shape is None else int(shape)


def _tensor_shapes(model) -> dict:
    """``(layer name, node key, tensor index) -> KerasTensor`` for every tensor of ``model``."""
    from gpunet.models.functional_config import _node_keys

    keys = _node_keys(model)
    out = {}
    for t in model.inputs:
        layer = t._keras_history[0]
        out[(layer.name, keys.get(id(t.node), 0), 0)] = t
    for node in model._nodes:
        for i, t in enumerate(node.outputs):
            out[(node.layer.name, keys[id(node)], i)] = t
    return out


def _k3_tensor(ref: list, tensors: dict) -> dict:
    t = tensors.get((ref[0], ref[1], ref[2]))
    shape = _jsonable(t.shape) if t is not None else None
    dtype = t.dtype if t is not None else "float32"
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": dtype, "keras_history": list(ref[:3])}}


def _is_ref(v: Any) -> bool:
    return (isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
            and all(isinstance(x, int) for x in v[1:]))


def _k3_node(node: list, tensors: dict) -> dict:
    args = [_k3_tensor(e, tensors) for e in node]
    kwargs: dict = {}
    for e in node:
        if len(e) > 3 and e[3]:
            kwargs = dict(e[3])
    def conv(v: Any) -> Any:  # tensor references at any depth (mask=[None, tensor])
        if _is_ref(v):
            return _k3_tensor(v, tensors)
        if isinstance(v, list):
            return [conv(r) for r in v]
        return v

    kwargs = {k: conv(v) for k, v in kwargs.items()}
    return {"args": args if len(args) == 1 else [args], "kwargs": kwargs}


def model_config(model) -> dict:
    """``serialize_keras_object(model)`` as Keras 3 writes it (without ``compile_config``)."""
    from gpunet.models.functional import Functional
    from gpunet.saving.k3_layout import is_composite

    if is_composite(model):
        return _subclassed_config(model)
    cfg = dict(model.get_config())
    by_name = {layer.name: layer for layer in model.layers}
    if isinstance(model, Functional):
        tensors = _tensor_shapes(model)
        layers = []
        for entry in cfg["layers"]:
            layer = by_name[entry["name"]]
            nodes = entry["inbound_nodes"]
            if entry["class_name"] == "OpLambda" and len(nodes) == 1:
                from gpunet.saving.k3_ops import keras_op_entry

                op = keras_op_entry(layer, entry["name"],
                                    [_k3_tensor(e, tensors) for e in nodes[0]])
                if op is not None:  # as Keras 3 writes its operation nodes
                    layers.append(op)
                    continue
            new = layer_config(layer, entry)
            new["name"] = entry["name"]
            new["inbound_nodes"] = [_k3_node(n, tensors) for n in nodes]
            layers.append(new)
        cfg["layers"] = layers
        build = None
    else:
        layers = []
        own = list(getattr(model, "_layers", model.layers))
        for entry in cfg["layers"]:
            if entry["class_name"] == "InputLayer" and model._input_layer is not None:
                layers.append(layer_config(model._input_layer, entry))
            else:
                layers.append(layer_config(own.pop(0), entry))
        cfg["layers"] = layers
        cfg.setdefault("trainable", model.trainable)
        cfg["dtype"] = _policy(model._dtype_config())
        inp = model._input_layer
        build = list(inp.batch_shape) if inp is not None else None
        if build is not None:
            cfg["build_input_shape"] = build
    if isinstance(model, Functional):  # as Keras 3 serialises its Functional class
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": cfg, "registered_name": "Functional"}
    out = {"module": "keras", "class_name": type(model).__name__, "config": cfg,
           "registered_name": _registered(model)}
    if build is not None:
        out["build_config"] = {"input_shape": build}
    return out


def _subclassed_config(model) -> dict:
    """A subclassed model as Keras 3 serialises it: its ``get_config()`` (the constructor
    arguments), the registered name and the input shape it was built for."""
    cfg = dict(model.get_config())
    cfg["dtype"] = _policy(cfg.get("dtype"))
    out = {"module": None, "class_name": type(model).__name__, "config": cfg,
           "registered_name": _registered(model)}
    shape = getattr(model, "input_shape_", None) or getattr(model, "_build_shape", None)
    if shape is not None:
        out["build_config"] = {"input_shape": _jsonable(shape)}
    return out
