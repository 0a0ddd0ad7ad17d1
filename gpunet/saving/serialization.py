"""Model and layer configs: to/from dicts, JSON and YAML; ``clone_model``; custom objects.

Reads the Keras 2 layout (``batch_input_shape``, plain dtype strings, ``{"class_name",
"config"}`` objects) and the Keras 3 one (``module``/``registered_name``/``build_config``
keys, ``batch_shape``, DTypePolicy dicts, ``"function"`` and ``"__tuple__"`` wrappers), and
writes the Keras 2 layout, which both Keras versions load.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

from gpunet import registry
from gpunet.registry import lookup, safe_mode_scope

KERAS_VERSION = "2.15.0"

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
            v = (v.get("config") or {}).get("name")
            if isinstance(v, str) and v.startswith("mixed_"):
                raise ValueError(f"{where} uses the dtype policy {v!r}; gpunet does not "
                                 "support mixed precision. Use 'float32'.")
        out[k] = normalize(v, where)
    return out


def _clean(class_name: str, layer_name: str, config: dict) -> dict:
    config = normalize(dict(config), f"Layer '{layer_name}' ({class_name})", keep=("layers",))
    for key, harmless in _IGNORABLE.items():
        if key in config:
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
    if name in ("Functional", "Model"):
        raise ValueError(f"Unsupported model class '{name}': gpunet loads Sequential models "
                         "(Functional models are not supported yet).")
    raise ValueError(f"Unknown layer: '{name}'. gpunet has no layer class of that name. If it "
                     "is a custom layer, pass it in `custom_objects` (e.g. load_model(path, "
                     f"custom_objects={{'{name}': {name}}})) or decorate the class with "
                     "gpunet.registry.register_serializable().")


def deserialize_layer(cfg: dict, custom_objects: dict | None = None):
    """Builds a layer (or nested model) from ``{"class_name": ..., "config": ...}``."""
    if not isinstance(cfg, dict) or "class_name" not in cfg:
        raise ValueError(f"Invalid layer config (expected a dict with 'class_name'): {cfg!r}")
    name = cfg["class_name"]
    cls = _layer_class(name, cfg.get("registered_name"), custom_objects)
    raw = cfg.get("config", {}) or {}
    layer_name = raw.get("name", "?") if isinstance(raw, dict) else "?"
    config = _clean(name, layer_name, raw)
    from gpunet.models.model import Model

    with custom_object_scope(custom_objects):
        try:
            if isinstance(cls, type) and issubclass(cls, Model):
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
    if build.get("input_shape") is not None and not layer.built:
        layer.build(tuple(build["input_shape"]))
        layer.built = True
    return layer


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
    try:
        cfg = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e}).") from None
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
