"""``serialize_keras_object`` / ``deserialize_keras_object``: any Keras object as Keras 3's
``{"module", "class_name", "config", "registered_name"}`` dict, and back.

gpunet's own classes are written under Keras's public module names (``"keras.layers"``,
``"keras.regularizers"``, ...), so Keras 3 reads these dicts as well; a class registered with
``register_keras_serializable`` carries ``"module": None`` and its ``"package>name"`` as
``registered_name``, and a registered function is ``{"module": "builtins", "class_name":
"function", "config": "package>name"}``, as Keras 3 writes them. Reading follows the same
allow-list as loading a model: gpunet's registry, the registered custom objects and the
``custom_objects`` given; a module name is never imported.
"""

from __future__ import annotations

from typing import Any

from gpunet import registry

# registry kind -> the Keras 3 module under which objects of that kind are written
_KIND_MODULES = {
    "layer": "keras.layers", "optimizer": "keras.optimizers",
    "schedule": "keras.optimizers.schedules", "regularizer": "keras.regularizers",
    "metric": "keras.metrics", "loss": "keras.losses", "initializer": "keras.initializers",
    "constraint": "keras.constraints", "activation": "keras.activations",
}
_MODULE_KINDS = {module: kind for kind, module in _KIND_MODULES.items()}
_MODULE_KINDS.update({"keras.models": "layer", "keras.src.models.functional": "layer",
                      "keras.src.models.sequential": "layer"})


def _registered_name(obj: Any) -> str | None:
    return next((k for k, v in registry._CUSTOM.items() if v is obj and ">" in k), None)


def _kind_of(cls: Any) -> str | None:
    for kind in _KIND_MODULES:
        for name in registry.known_names(kind):
            if registry.lookup(kind, name) is cls:
                return kind
    return None


def serialize_keras_object(obj: Any) -> Any:
    """The Keras 3 serialization of ``obj``.

    Args:
        obj: a layer, model, optimizer, loss, metric, initializer, regularizer, constraint,
            schedule or function; None, strings, numbers and booleans pass through, lists,
            tuples and dicts are serialized item by item.

    Returns:
        ``{"module", "class_name", "config", "registered_name"}`` for an object with
        ``get_config`` (objects and functions inside its config serialized the same way); for
        a function, ``{"module": "builtins", "class_name": "function",
        "config": name, "registered_name": "function"}``.

    Example:

    >>> serialize_keras_object(gpunet.regularizers.L1(0.005))
    {'module': 'keras.regularizers', 'class_name': 'L1', 'config': {'l1': 0.005},
     'registered_name': None}
    """
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        registered = _registered_name(type(obj))
        module = None if registered else _KIND_MODULES.get(_kind_of(type(obj)) or "",
                                                           type(obj).__module__)
        config = obj.get_config()
        if isinstance(config, dict):  # objects held in the config are serialized too
            config = {k: serialize_keras_object(v) for k, v in config.items()}
        return {"module": module, "class_name": type(obj).__name__,
                "config": config, "registered_name": registered}
    if callable(obj) and hasattr(obj, "__name__"):
        return {"module": "builtins", "class_name": "function",
                "config": _registered_name(obj) or obj.__name__, "registered_name": "function"}
    raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} (type "
                    f"{type(obj).__name__}): it has no get_config() and is not a function.")


def _find_function(name: str, custom_objects: dict | None) -> Any:
    for kind in ("activation", "loss", "metric", "initializer", "regularizer", "constraint"):
        try:
            return registry.lookup(kind, name, custom_objects)
        except ValueError:
            continue
    raise ValueError(f"deserialize_keras_object: unknown function {name!r}. If it is a custom "
                     "function, pass it in `custom_objects` or decorate it with "
                     "`keras.saving.register_keras_serializable()`.")


def deserialize_keras_object(config: Any, custom_objects: dict | None = None) -> Any:
    """Rebuilds an object from ``serialize_keras_object``'s output (or Keras 3's).

    Args:
        config: a dict with ``class_name`` and ``config`` (``module`` and
            ``registered_name`` as Keras 3 writes them); None, strings and numbers are returned
            as they are.
        custom_objects: ``{name: class_or_function}`` for objects not registered.

    Returns:
        The object (for a function, the function itself).

    Raises:
        ValueError: an unknown class or function, naming it.

    Example:

    >>> reg = deserialize_keras_object({"module": "keras.regularizers", "class_name": "L1",
    ...                                 "config": {"l1": 0.005}, "registered_name": None})
    """
    if config is None or isinstance(config, (str, int, float, bool)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects) for c in config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("deserialize_keras_object: expected a dict with 'class_name' and "
                         f"'config'; received {config!r}.")
    inner = config.get("config")
    if config["class_name"] == "function":
        return _find_function(inner, custom_objects)
    name = config.get("registered_name") or config["class_name"]
    kinds = [_MODULE_KINDS[config["module"]]] if config.get("module") in _MODULE_KINDS else []
    kinds += [k for k in _KIND_MODULES if k not in kinds]
    for kind in kinds:
        try:
            cls = registry.lookup(kind, name, custom_objects)
        except ValueError:
            if name != config["class_name"]:
                try:
                    cls = registry.lookup(kind, config["class_name"], custom_objects)
                except ValueError:
                    continue
            else:
                continue
        if hasattr(cls, "from_config"):
            return cls.from_config(inner or {})
        return cls(**(inner or {})) if isinstance(cls, type) else cls
    raise ValueError(f"deserialize_keras_object: unknown class {name!r} (module "
                     f"{config.get('module')!r}). If it is a custom object, pass it in "
                     "`custom_objects` or decorate it with "
                     "`keras.saving.register_keras_serializable()`.")
