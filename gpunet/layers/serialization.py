"""``gpunet.layers.serialize`` / ``deserialize``: a layer to and from Keras 3's config dict.

The Keras 3 spelling (``module``, ``class_name``, ``config``, ``registered_name`` and, once
built, ``build_config``) lives with the saving code, which sits above the layers; the two
functions import it when called.
"""

from __future__ import annotations

from typing import Any


def serialize(layer: Any) -> dict:
    """Returns the Keras 3 config dict of a layer (or model), as ``keras.layers.serialize``.

    Args:
        layer: a ``Layer`` instance.

    Returns:
        ``{"module", "class_name", "config", "registered_name"}`` plus ``build_config`` for a
        built layer; a user's layer has ``module`` None and its registered name.

    Example:

    >>> cfg = gpunet.layers.serialize(gpunet.layers.Dense(3))
    >>> cfg["class_name"], cfg["config"]["units"]
    ('Dense', 3)
    """
    from gpunet.layers.layer import Layer
    from gpunet.registry import _serialize_held, class_name
    from gpunet.saving.keras3_config import layer_config

    if not isinstance(layer, Layer):
        raise TypeError(f"serialize() expects a Layer instance; received {layer!r} (of type "
                        f"{type(layer).__name__}).")
    config = layer.get_config()
    if isinstance(config, dict):  # layers, regularizers, ... held in the config, as Keras
        config = {k: serialize(v) if isinstance(v, Layer) else _serialize_held(v)
                  for k, v in config.items()}
    out = layer_config(layer, {"class_name": class_name(layer), "config": config})
    if not type(layer).__module__.startswith("gpunet."):
        out["module"] = None
    if not layer.built:
        out.pop("build_config", None)
    return out


def deserialize(config: dict, custom_objects: dict | None = None) -> Any:
    """Builds a layer from a config of ``serialize`` (or Keras 2's ``{"class_name",
    "config"}``), as ``keras.layers.deserialize``.

    Args:
        config: the dict.
        custom_objects: ``{name: class}`` for user layers not registered with
            ``gpunet.saving.register_keras_serializable``.

    Returns:
        The layer, built when the config has a ``build_config``.

    Raises:
        ValueError: for a config that is not a dict with ``class_name``, or an unknown class
            (the message names it and how to make it known).
    """
    from gpunet.deserialization import deserialize_layer

    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("deserialize() expects a dict with 'class_name' and 'config' (the "
                         f"output of serialize()); received {config!r}.")
    return deserialize_layer(config, custom_objects)
