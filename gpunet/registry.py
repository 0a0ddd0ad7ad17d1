"""Name registry for serialisable objects, with Keras-style (de)serialisation helpers.

Classes and functions register under their Keras name so configs (``{"class_name": ...,
"config": ...}``) and strings (``"adam"``, ``"relu"``) resolve to them; users add their
own with ``register_serializable``.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import threading
from collections.abc import Iterator
from typing import Any

_REGISTRY: dict[str, dict[str, Any]] = {}
_CUSTOM: dict[str, Any] = {}

# -- safe mode (Keras 3's ``safe_mode`` of load_model / deserialization) ---------------------
_SAFE = threading.local()
_UNSAFE_BY_DEFAULT = [False]


@contextlib.contextmanager
def safe_mode_scope(safe_mode: bool | None = True) -> Iterator[None]:
    """Within the block, configs are deserialized in safe mode (``True``) or not (``False``).

    In safe mode a config may name only registered classes, custom objects the caller passed
    and gpunet's own functions; Python bytecode and functions of other modules are refused.
    ``None`` keeps the enclosing setting. Every loader opens this scope with its own
    ``safe_mode`` argument (default ``True``).

    Example:

    >>> with gpunet.saving.SafeModeScope(False):  # only for files you trust
    ...     model = Sequential.from_config(config)
    """
    old = getattr(_SAFE, "value", None)
    _SAFE.value = old if safe_mode is None else bool(safe_mode)
    try:
        yield
    finally:
        _SAFE.value = old


SafeModeScope = safe_mode_scope


def in_safe_mode() -> bool | None:
    """The innermost ``safe_mode_scope`` value; ``None`` outside any scope (Keras's name)."""
    return getattr(_SAFE, "value", None)


def safe_mode_enabled() -> bool:
    """Whether deserialization runs in safe mode now: inside a scope its value, outside any
    scope ``True`` (fails closed, as Keras 3.15) unless ``enable_unsafe_deserialization()``."""
    value = in_safe_mode()
    return (not _UNSAFE_BY_DEFAULT[0]) if value is None else value


def enable_unsafe_deserialization() -> None:
    """Turns safe mode off for deserialization outside any ``safe_mode_scope`` (direct
    ``from_config`` calls), process-wide, as ``keras.config.enable_unsafe_deserialization``.
    Loaders still use their own ``safe_mode`` argument. Only for configs you trust."""
    _UNSAFE_BY_DEFAULT[0] = True


def snake_case(name: str) -> str:
    """``"GlobalAveragePooling2D"`` → ``"global_average_pooling2d"`` (Keras's rule)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def register(kind: str, *names: str):
    """Class/function decorator adding the object to the ``kind`` table under ``names``.

    The object's own ``__name__`` is always registered too.
    """

    def deco(obj):
        table = _REGISTRY.setdefault(kind, {})
        table[obj.__name__] = obj
        for n in names:
            table[n] = obj
        return obj

    return deco


def register_serializable(package: str = "Custom", name: str | None = None):
    """Registers a user class or function so saved models can find it by name.

    Example:

    >>> @gpunet.registry.register_serializable()
    ... class MyLayer(gpunet.layers.Layer):
    ...     ...
    """

    def deco(obj):
        key = name or obj.__name__
        _CUSTOM[key] = obj
        _CUSTOM[f"{package}>{key}"] = obj
        return obj

    return deco


def lookup(kind: str, name: str, custom_objects: dict | None = None) -> Any:
    """Finds ``name`` in custom objects, the user registry, then the ``kind`` table.

    Raises:
        ValueError: naming the kind, the unknown name and the closest known names.
    """
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _CUSTOM:
        return _CUSTOM[name]
    table = _REGISTRY.get(kind, {})
    if name in table:
        return table[name]
    low = {k.lower(): v for k, v in table.items()}
    if name.lower() in low:
        return low[name.lower()]
    known = sorted(set(table) | set(custom_objects or {}))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    extra = (" If it is a custom object, pass it in `custom_objects` or decorate it with "
             "`gpunet.registry.register_serializable()`.")
    raise ValueError(f"Unknown {kind}: {name!r}.{hint}{extra}")


def known_names(kind: str) -> list[str]:
    """Every registered name of ``kind``."""
    return sorted(_REGISTRY.get(kind, {}))


def class_name(obj: Any) -> str:
    """The ``class_name`` a config records for ``obj``: the name Keras exports the class
    under where it differs from the Python class name (a class's own ``_keras_name``, e.g.
    ``GroupQueryAttention`` for ``GroupedQueryAttention``), else the class name."""
    cls = type(obj)
    return cls.__dict__.get("_keras_name", cls.__name__)


def serialize(obj: Any) -> Any:
    """``{"class_name", "config"}`` for objects with ``get_config``; names for functions."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if isinstance(config, dict):  # a layer, regularizer, ... held in the config, as Keras
            config = {k: _serialize_held(v) for k, v in config.items()}
        return {"class_name": class_name(obj), "config": config}
    if callable(obj) and hasattr(obj, "__name__"):
        return obj.__name__
    raise TypeError(f"Cannot serialize {obj!r}: it has no get_config() and is not a function.")


def _serialize_held(value: Any) -> Any:
    """An object with ``get_config`` inside a config becomes its config dict (a registered
    class under its ``package>name``, so ``deserialize`` finds it); other values stay."""
    if isinstance(value, type) or not hasattr(value, "get_config"):
        return value
    out = serialize(value)
    registered = next((k for k, v in _CUSTOM.items() if v is type(value) and ">" in k), None)
    if registered:
        out["class_name"] = registered
    return out


def serialize_nested_layer(layer: Any) -> dict:
    """A layer held inside another layer's config (Bidirectional's ``layer``, RNN's ``cell``).

    Keras 3 rebuilds nested objects through its module path, so gpunet's own layers carry
    ``"module": "keras.layers"``; a user's class keeps the plain ``class_name`` (Keras finds
    it through ``custom_objects``). Older Keras versions ignore the extra keys.
    """
    cfg = serialize(layer)
    if type(layer).__module__.startswith("gpunet."):
        cfg = {"module": "keras.layers", **cfg, "registered_name": None}
    return cfg


def deserialize(kind: str, config: Any, custom_objects: dict | None = None) -> Any:
    """Builds an object of ``kind`` from a name, a ``{"class_name", "config"}`` dict or itself."""
    if config is None:
        return None
    if isinstance(config, str):
        obj = lookup(kind, config, custom_objects)
        return obj() if isinstance(obj, type) else obj
    if isinstance(config, dict):
        if "class_name" not in config:
            raise ValueError(f"Invalid {kind} config (no 'class_name'): {config!r}")
        cls = lookup(kind, config["class_name"], custom_objects)
        cfg = config.get("config", {}) or {}
        if hasattr(cls, "from_config"):
            return cls.from_config(cfg)
        return cls(**cfg) if isinstance(cls, type) else cls
    return config
