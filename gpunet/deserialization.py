"""Configs to objects, below the layers: ``deserialize_layer`` and ``custom_object_scope``.

A container layer (``Bidirectional``, ``TimeDistributed``, ``RNN`` over cells, a nested
model) rebuilds its inner layers from their configs here, through the name registry and its
safe mode, so no layer imports the saving package. Reads the Keras 2 layout
(``{"class_name", "config"}``, ``batch_input_shape``, dtype strings) and the Keras 3 one
(``module``/``registered_name``/``build_config`` keys, ``batch_shape``, DTypePolicy dicts,
``"function"`` and ``"__tuple__"`` wrappers).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from gpunet import registry
from gpunet.registry import lookup

# Keras 3 layer options that mean nothing to gpunet while at these (default) values.
_IGNORABLE = {"lora_rank": (None, 0), "lora_alpha": (None,), "quantization_config": (None,),
              "gradient_checkpointing": (None, False), "optional": (False,),
              # Keras 3.15 MultiHeadAttention options, meaningless at their defaults
              "use_gate": (False,), "sliding_window": (None,)}
_POLICIES = ("DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy")


@contextlib.contextmanager
def custom_object_scope(*objects: dict | None) -> Iterator[None]:
    """Makes the given ``{name: class or function}`` dicts visible to every lookup by name.

    Example:

    >>> with custom_object_scope({"MyLayer": MyLayer}):
    ...     model = gpunet.models.model_from_json(text)
    """
    table = registry._CUSTOM
    added = {k: v for d in objects for k, v in (d or {}).items()}
    missing = object()
    saved = {k: table.get(k, missing) for k in added}
    table.update(added)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is missing:
                table.pop(k, None)
            else:
                table[k] = old


CustomObjectScope = custom_object_scope


def get_custom_objects() -> dict:
    """The live dict of objects registered with ``register_serializable`` (Keras's name)."""
    return registry._CUSTOM


def _strip_package(name: str) -> str:
    return name.split(">", 1)[1] if ">" in name else name


def normalize(value: Any, where: str = "config", keep: tuple = ()) -> Any:
    """Keras 3 → Keras 2 spelling of a config value, recursively (see the module docstring).

    Keys of a top-level dict listed in ``keep`` are left alone (nested layer lists are
    normalised when each layer is rebuilt, so errors name the right layer).

    Raises:
        ValueError: for options gpunet cannot honour (mixed-precision policies, lambdas).
    """
    if isinstance(value, list):
        return [normalize(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    cls = value.get("class_name")
    if cls == "__tuple__":
        return normalize(list(value.get("config", {}).get("value", [])), where)
    if cls == "__lambda__":
        raise ValueError(f"{where} holds a Python lambda, which gpunet cannot load. Replace it "
                         "by a named function and pass it in `custom_objects`.")
    if cls == "function" and isinstance(value.get("config"), str):
        return _strip_package(value["config"])
    out = {}
    for k, v in value.items():
        if k in keep:
            out[k] = v
            continue
        if k == "dtype" and isinstance(v, dict) and v.get("class_name") in _POLICIES:
            name = (v.get("config") or {}).get("name")  # the layer takes the policy's name
            if not isinstance(name, str):
                raise ValueError(f"{where} uses the dtype policy {v.get('class_name')} "
                                 f"({v.get('config')}); gpunet has no quantized layers. Use "
                                 "a float policy such as 'float32' or 'mixed_float16'.")
            v = name
        out[k] = normalize(v, where)
    return out


def _clean(class_name: str, layer_name: str, config: dict, handled: tuple = ()) -> dict:
    """``config`` normalized, with the ``_IGNORABLE`` options at their defaults dropped (and
    others refused) unless the class takes them itself (its ``_handles_options``)."""
    config = normalize(dict(config), f"Layer '{layer_name}' ({class_name})", keep=("layers",))
    for key, harmless in _IGNORABLE.items():
        if key in config and key not in handled:
            if config[key] in harmless:
                config.pop(key)
            else:
                raise ValueError(f"Layer '{layer_name}' ({class_name}) uses the option "
                                 f"{key}={config[key]!r}, which gpunet does not support.")
    return config


def _layer_class(name: str, registered: str | None, custom_objects: dict | None):
    for candidate in (name, registered):
        if not candidate:
            continue
        try:
            return lookup("layer", candidate, custom_objects)
        except ValueError:
            pass
    raise ValueError(f"Unknown layer: '{name}'. gpunet has no layer class of that name. If it "
                     "is a custom layer, pass it in `custom_objects` (e.g. load_model(path, "
                     f"custom_objects={{'{name}': {name}}})) or decorate the class with "
                     "gpunet.registry.register_serializable().")


def _takes_custom_objects(from_config: Any) -> bool:
    """Whether a ``from_config`` classmethod takes ``custom_objects`` (a user's model class
    may define ``from_config(cls, config)`` only)."""
    params = inspect.signature(from_config).parameters
    return "custom_objects" in params or len(params) >= 2 or any(
        p.kind is p.VAR_KEYWORD for p in params.values())


def _is_model_class(cls: Any) -> bool:
    """Whether ``cls`` is a model class (found without importing ``gpunet.models``)."""
    return isinstance(cls, type) and any(
        c.__name__ == "Model" and c.__module__ == "gpunet.models.model" for c in cls.__mro__)


def deserialize_layer(cfg: dict, custom_objects: dict | None = None):
    """Builds a layer (or nested model) from its config, in the registry's safe mode.

    Args:
        cfg: ``{"class_name": ..., "config": ...}`` in the Keras 2 or Keras 3 layout
            (``registered_name`` and ``build_config`` are honoured).
        custom_objects: ``{name: class or function}`` visible while the layer is rebuilt.

    Returns:
        The layer, built when the config has a ``build_config`` with an input shape.

    Raises:
        ValueError: for a config that is not a dict with ``class_name``, an unknown class
            (the message says how to make it known), or an option gpunet cannot honour.

    Example:

    >>> layer = deserialize_layer({"class_name": "Dense", "config": {"units": 3}})
    """
    if not isinstance(cfg, dict) or "class_name" not in cfg:
        raise ValueError(f"Invalid layer config (expected a dict with 'class_name'): {cfg!r}")
    name = cfg["class_name"]
    cls = _layer_class(name, cfg.get("registered_name"), custom_objects)
    raw = cfg.get("config", {}) or {}
    layer_name = raw.get("name", "?") if isinstance(raw, dict) else "?"
    config = _clean(name, layer_name, raw, getattr(cls, "_handles_options", ()))
    with custom_object_scope(custom_objects):
        try:
            if _is_model_class(cls) and _takes_custom_objects(cls.from_config):
                layer = cls.from_config(config, custom_objects)
                if config.get("trainable") is False:
                    layer.trainable = False
            else:
                layer = cls.from_config(config)
        except TypeError as e:
            raise ValueError(f"Layer '{layer_name}' (class {name}) cannot be rebuilt from its "
                             f"config: {e}. The option is not supported by gpunet's "
                             f"{name}.") from None
    build = cfg.get("build_config") or {}
    if build and not layer.built and not type(layer).build_from_config.__module__.startswith(
            "gpunet."):  # the user's build_from_config gets the user's build_config (Keras 3)
        layer.build_from_config(build)
        layer.built = True
    if build.get("input_shape") is not None and not layer.built:
        layer.build(tuple(build["input_shape"]))
        layer.built = True
    return layer
