"""Keras 3's registration helpers (``keras.utils.register_keras_serializable``,
``get_registered_name``, ``serialize_keras_object``, ...) over gpunet's registry."""

from __future__ import annotations

import contextlib
from typing import Any

from gpunet import registry

__all__ = ["deserialize_keras_object", "get_registered_name", "get_registered_object",
           "register_keras_serializable", "serialize_keras_object"]


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Registers a class or function under ``"package>name"`` (and ``name``) so saved
    models find it.

    Example:

    >>> @gpunet.utils.register_keras_serializable(package="MyLayers")
    ... class Scale(gpunet.Layer):
    ...     ...
    """

    def deco(obj):
        registry.register_serializable(package, name)(obj)
        obj._registered_name = f"{package}>{name or obj.__name__}"
        return obj

    return deco


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` was registered under (``"package>name"``), else its ``__name__``."""
    return getattr(obj, "_registered_name", None) or obj.__name__


def get_registered_object(name: str, custom_objects: dict | None = None,
                          module_objects: dict | None = None) -> Any:
    """The object registered (or passed in ``custom_objects``/``module_objects``) under
    ``name``; ``None`` when there is none."""
    for table in (custom_objects, registry._CUSTOM, module_objects):
        if table and name in table:
            return table[name]
    return None


def serialize_keras_object(obj: Any) -> Any:
    """``keras.utils.serialize_keras_object``: the Keras 3 form (``{"module", "class_name",
    "config", "registered_name"}``; functions as ``class_name="function"``; lists, tuples and
    dicts item by item), the same as ``gpunet.saving.serialize_keras_object``."""
    from gpunet.saving.object_serialization import serialize_keras_object as ser

    return ser(obj)


def deserialize_keras_object(config: Any, custom_objects: dict | None = None,
                             safe_mode: bool = True, **kwargs: Any) -> Any:
    """Rebuilds an object from ``serialize_keras_object``'s output (or Keras 3's); the class or
    function must be registered or passed in ``custom_objects``. Strings name a registered
    object or pass through (``"SGD"``, ``"accuracy"``), as in Keras 3."""
    from gpunet.saving.object_serialization import deserialize_keras_object as deser

    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        return config if found is None else found
    if isinstance(config, dict) and "class_name" in config and "module" not in config:
        name = config.get("registered_name") or config["class_name"]
        cls = get_registered_object(name, custom_objects) or get_registered_object(
            config["class_name"], custom_objects)
        if cls is not None:  # a registered class in the Keras 2 two-key form
            cfg = config.get("config", {}) or {}
            scope = getattr(registry, "safe_mode_scope", None)
            with scope(safe_mode) if scope else contextlib.nullcontext():
                return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)
    scope = getattr(registry, "safe_mode_scope", None)
    with scope(safe_mode) if scope else contextlib.nullcontext():
        return deser(config, custom_objects)
