"""Model and layer configs: to/from dicts, JSON and YAML; ``clone_model``; custom objects.

Reads the Keras 2 layout (``batch_input_shape``, plain dtype strings, ``{"class_name",
"config"}`` objects) and the Keras 3 one (``module``/``registered_name``/``build_config``
keys, ``batch_shape``, DTypePolicy dicts, ``"function"`` and ``"__tuple__"`` wrappers), and
writes the Keras 2 layout, which both Keras versions load.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gpunet.deserialization import (  # noqa: F401 (re-exported: the saving API)
    CustomObjectScope,
    custom_object_scope,
    deserialize_layer,
    get_custom_objects,
    normalize,
)
from gpunet.registry import safe_mode_scope
from gpunet.saving.config_guard import check_config, parse_config
from gpunet.weight_budget import memory_budget

KERAS_VERSION = "2.15.0"


def model_to_config(model) -> dict:
    """``{"class_name": "Sequential", "config": {...}}`` in the Keras 2 layout."""
    return {"class_name": type(model).__name__, "config": model.get_config()}


def model_from_config(config: dict, custom_objects: dict | None = None,
                      safe_mode: bool | None = None):
    """Rebuilds an uncompiled model from ``model_to_config`` output (or a Keras config).

    Args:
        config: ``{"class_name": ..., "config": ...}``.
        custom_objects: ``{name: class or function}`` for custom layers and functions.
        safe_mode: ``True`` (the effective default): only registered classes,
            ``custom_objects`` and gpunet's own functions may be named by the config;
            ``Lambda`` bytecode and other modules' functions are refused, as in Keras 3.
            ``False`` only for configs you trust. ``None`` (default): the enclosing
            ``SafeModeScope``, and safe outside any scope.
    """
    if not isinstance(config, dict):
        raise ValueError(f"A model config must be a dict; received {type(config).__name__}.")
    check_config(config, None)  # nesting depth and layer count, before anything is built
    with safe_mode_scope(safe_mode), custom_object_scope(custom_objects):
        return deserialize_layer(config, custom_objects)


def model_to_json(model, **kwargs: Any) -> str:
    """``model.to_json()``: the config plus ``keras_version`` and ``backend``."""
    cfg = model_to_config(model)
    cfg.update({"keras_version": KERAS_VERSION, "backend": "gpunet"})
    return json.dumps(cfg, **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None,
                    safe_mode: bool | None = None):
    """Rebuilds an uncompiled model (fresh weights) from ``model.to_json()`` or Keras JSON.

    ``safe_mode`` as for ``model_from_config`` (safe unless ``False``).
    """
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise ValueError("model_from_json: the string is not valid JSON (expected str or "
                         f"bytes, received {type(json_string).__name__}).")
    cfg = parse_config(json_string, None, "model_from_json string")
    with memory_budget("model_from_json string"):
        return model_from_config(cfg, custom_objects, safe_mode)


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ImportError("to_yaml() / model_from_yaml() need PyYAML, which is not installed. "
                          "Install it with `pip install pyyaml` (or `pip install "
                          "gpunet[yaml]`), or use to_json() / model_from_json().") from None
    return yaml


def model_to_yaml(model, **kwargs: Any) -> str:
    """``model.to_yaml()``: the JSON config written as YAML (``yaml.safe_dump``)."""
    return _yaml().safe_dump(json.loads(model_to_json(model)), **kwargs)


def model_from_yaml(yaml_string: str, custom_objects: dict | None = None,
                    safe_mode: bool | None = None):
    """Rebuilds an uncompiled model from ``model.to_yaml()`` (read with ``yaml.safe_load``).

    ``safe_mode`` as for ``model_from_config`` (safe unless ``False``).
    """
    yaml = _yaml()
    try:
        cfg = yaml.safe_load(yaml_string)
    except yaml.YAMLError as e:
        raise ValueError(f"model_from_yaml: the string is not valid YAML ({e}).") from None
    with memory_budget("model_from_yaml string"):
        return model_from_config(cfg, custom_objects, safe_mode)


def clone_model(model, clone_function: Any = None):
    """Same architecture, freshly initialised weights, not compiled.

    Args:
        model: a ``Sequential`` model.
        clone_function: optional ``fn(layer) -> new layer`` applied to each layer
            (default: rebuild each layer from its config).

    Returns:
        A new ``Sequential`` model, built when the original had an input shape.
    """
    from gpunet.models.sequential import Sequential
    if not isinstance(model, Sequential):
        raise TypeError("clone_model supports Sequential models. Received: "
                        f"{type(model).__name__}")

    def default(layer):
        from gpunet.layers.lambda_layer import Lambda

        if isinstance(layer, Sequential):
            return clone_model(layer)
        if type(layer) is Lambda:  # shares the function: no bytecode round trip
            return layer.clone()
        return type(layer).from_config(copy.deepcopy(layer.get_config()))

    fn = clone_function or default
    clone = Sequential(name=model.name)
    if model._input_layer is not None:
        from gpunet.layers.core import InputLayer

        src = model._input_layer
        clone.add(InputLayer(batch_shape=src.batch_shape, dtype=src.dtype, name=src.name))
    for layer in model.layers:
        new = fn(layer)
        if new is layer:
            raise ValueError(f"clone_function returned the original layer '{layer.name}'; it "
                             "must return a new layer.")
        clone.add(new)
    return clone
