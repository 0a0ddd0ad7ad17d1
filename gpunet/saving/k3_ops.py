"""The ops recorded on symbolic tensors (``OpLambda`` nodes: ``x + y``, ``ops.mean(x, axis=1)``,
``x[:, 0]``) written as Keras 3 writes its operation nodes, so that Keras 3 loads gpunet's
``.keras`` files holding them: the operation's class and module
(``gpunet.saving.keras_ops_table``), its constructor arguments in its config, the tensors and
the other arguments in its inbound node. An op Keras 3 does not have stays an ``OpLambda``
(which gpunet reads back, Keras does not)."""

from __future__ import annotations

import inspect
from typing import Any

from gpunet.saving.keras_ops_table import KERAS_OPS

_TENSOR = "__op_input__"
# gpunet op names that Keras 3's operation classes spell otherwise
_ALIASES = {"getitem": "get_item"}


def keras_op_entry(layer: Any, name: str, node_tensors: list) -> dict | None:
    """The Keras 3 entry (with its one inbound node) of the ``OpLambda`` ``layer``, whose node
    reads ``node_tensors`` (Keras 3 tensor dicts, in slot order); None where Keras has no such
    operation or the layer wraps a Keras 2 TensorFlow function."""
    if getattr(layer, "_tf_function", None) is not None:
        return None
    op = _ALIASES.get(layer.function, layer.function)
    found = KERAS_OPS.get(op)
    if found is None:
        return None
    module, cls, ctor = found
    template = layer.arguments or {}
    args, kwargs = list(template.get("args", [])), dict(template.get("kwargs", {}))
    if op == "get_item" and "key" in kwargs:  # Keras's node: x[key] as (x, key)
        args.append(kwargs.pop("key"))
    try:  # positional arguments that Keras takes in the constructor (ops.mean(x, 1))
        params = list(inspect.signature(layer._op).parameters.values())
    except (TypeError, ValueError):
        params = []
    call_args = []
    for i, a in enumerate(args):
        p = params[i] if i < len(params) else None
        if p is not None and p.kind is p.POSITIONAL_OR_KEYWORD and p.name in ctor:
            kwargs[p.name] = a
        else:
            call_args.append(a)

    def conv(v: Any) -> Any:
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            kind, cfg = v.get("class_name"), v.get("config") or {}
            if kind == _TENSOR:
                return node_tensors[cfg["index"]]
            if kind == "__op_tuple__":  # Keras writes a tuple argument as a list
                return [conv(x) for x in cfg["value"]]
            if kind == "__slice__":
                return {"class_name": "__slice__",
                        "config": {k: conv(cfg.get(k)) for k in ("start", "stop", "step")}}
            if kind == "__ellipsis__":
                return {"class_name": "__ellipsis__", "config": {}}
            if kind == "__ndarray__":  # a constant array, as Keras writes a tensor
                return {"class_name": "__tensor__",
                        "config": {"value": cfg.get("value"), "dtype": cfg.get("dtype")}}
            return {k: conv(x) for k, x in v.items()}
        return v

    config = {"name": name, **{k: conv(v) for k, v in kwargs.items() if k in ctor}}
    node = {"args": [conv(a) for a in call_args],
            "kwargs": {k: conv(v) for k, v in kwargs.items() if k not in ctor}}
    return {"module": module, "class_name": cls, "config": config, "registered_name": cls,
            "name": name, "inbound_nodes": [node]}
