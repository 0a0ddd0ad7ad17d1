"""Model and layer configs: to/from dicts and JSON, ``clone_model``.

Accepts the Keras 2 layout (``batch_input_shape``, plain dtype strings) and the Keras 3 one
(``module``/``registered_name``/``build_config`` keys, ``batch_shape``, DTypePolicy dicts).
"""

from __future__ import annotations

import json
from typing import Any

from gpunet.registry import lookup

# Keras 3 config keys that carry no meaning for gpunet when at their defaults.
_IGNORABLE = {"lora_rank": (None, 0), "lora_alpha": (None,), "quantization_config": (None,),
              "gradient_checkpointing": (None, False)}


def _clean(class_name: str, config: dict) -> dict:
    config = dict(config)
    for key, harmless in _IGNORABLE.items():
        if key in config:
            if config[key] in harmless:
                config.pop(key)
            else:
                raise ValueError(f"Layer class '{class_name}' uses the option {key}="
                                 f"{config[key]!r}, which gpunet does not support.")
    return config


def deserialize_layer(cfg: dict, custom_objects: dict | None = None):
    """Builds a layer (or nested model) from ``{"class_name": ..., "config": ...}``."""
    if not isinstance(cfg, dict) or "class_name" not in cfg:
        raise ValueError(f"Invalid layer config (expected a dict with 'class_name'): {cfg!r}")
    name = cfg["class_name"]
    try:
        cls = lookup("layer", name, custom_objects)
    except ValueError:
        raise ValueError(
            f"Unknown layer: '{name}'. Please ensure you are using a gpunet layer or pass the "
            "custom class in `custom_objects` (or decorate it with "
            "gpunet.registry.register_serializable())."
        ) from None
    config = _clean(name, cfg.get("config", {}))
    from gpunet.models.model import Model

    if isinstance(cls, type) and issubclass(cls, Model):
        return cls.from_config(config, custom_objects)
    layer = cls.from_config(config)
    build = cfg.get("build_config") or {}
    if build.get("input_shape") is not None and not layer.built:
        layer.build(tuple(build["input_shape"]))
        layer.built = True
    return layer


def model_to_config(model) -> dict:
    """``{"class_name": "Sequential", "config": {...}}`` in the Keras 2 layout."""
    return {"class_name": type(model).__name__, "config": model.get_config()}


def model_from_config(config: dict, custom_objects: dict | None = None):
    """Rebuilds an uncompiled model from ``model_to_config`` output (or a Keras config)."""
    return deserialize_layer(config, custom_objects)


def model_from_json(json_string: str, custom_objects: dict | None = None):
    """Rebuilds an uncompiled model from ``model.to_json()``."""
    try:
        cfg = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e}).") from None
    return model_from_config(cfg, custom_objects)


def clone_model(model, clone_function: Any = None):
    """Same architecture, freshly initialised weights, not compiled.

    Args:
        model: a ``Sequential`` model.
        clone_function: optional ``fn(layer) -> new layer`` applied to each layer
            (default: rebuild each layer from its config).
    """
    from gpunet.models.sequential import Sequential
    from gpunet.registry import serialize

    if not isinstance(model, Sequential):
        raise TypeError("clone_model supports Sequential models. Received: "
                        f"{type(model).__name__}")
    fn = clone_function or (lambda layer: deserialize_layer(serialize(layer)))
    clone = Sequential(name=model.name)
    if model._input_layer is not None:
        from gpunet.layers.core import InputLayer

        clone.add(InputLayer(batch_shape=model._input_layer.batch_shape))
    for layer in model.layers:
        new = fn(layer)
        if new is layer:
            raise ValueError("clone_function returned the original layer; it must return a new "
                             "layer.")
        clone.add(new)
    return clone
