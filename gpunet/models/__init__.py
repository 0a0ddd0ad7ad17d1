"""Models: ``Model`` (``Functional``), ``Sequential``, ``load_model``, ``clone_model``,
``model_from_json``, ``model_from_yaml``."""

from __future__ import annotations

from typing import Any

from gpunet.models.functional import Functional
from gpunet.models.model import Model
from gpunet.models.sequential import Sequential


def load_model(filepath: Any, custom_objects: dict | None = None,
               compile: bool = True, safe_mode: bool = True,  # noqa: A002
               **kwargs: Any) -> Model:
    """Loads a model saved with ``model.save`` (gpunet's, or a Keras 2/3 ``.h5`` file).

    Args:
        filepath: path of the ``.h5`` file.
        custom_objects: ``{name: class or function}`` for custom layers, losses, activations
            and ``Lambda`` functions (not needed for those registered with
            ``gpunet.registry.register_serializable``).
        compile: compile with the saved training config and restore the optimizer state.
        safe_mode: the config may name only registered classes, ``custom_objects`` and
            gpunet's own functions: ``Lambda`` layers saved as Python bytecode (lambdas) or
            naming another module's function are refused, since they would run code from
            the file (Keras 3's default). Pass ``False`` only for files you trust.

    Returns:
        The model, compiled when ``compile`` and the file holds a training config.

    Example:

    >>> model.save("model.h5")
    >>> model = gpunet.models.load_model("model.h5")
    """
    from gpunet.registry import safe_mode_scope
    from gpunet.saving.hdf5 import load_model as _load

    if kwargs:
        raise TypeError(f"load_model() got unexpected keyword arguments: {sorted(kwargs)}")
    with safe_mode_scope(bool(safe_mode)):
        return _load(filepath, custom_objects=custom_objects, compile=compile,
                     safe_mode=bool(safe_mode))


def model_from_json(json_string: str, custom_objects: dict | None = None,
                    safe_mode: bool = True) -> Model:
    """Rebuilds an (uncompiled, freshly initialised) model from ``model.to_json()``.

    Args:
        json_string: the JSON text.
        custom_objects: ``{name: class or function}`` for custom layers and functions.
        safe_mode: refuse ``Lambda`` bytecode and functions of other modules (see
            ``load_model``); ``False`` only for configs you trust.

    Example:

    >>> clone = gpunet.models.model_from_json(model.to_json())
    """
    from gpunet.saving.serialization import model_from_json as _f

    return _f(json_string, custom_objects, safe_mode=bool(safe_mode))


def model_from_yaml(yaml_string: str, custom_objects: dict | None = None,
                    safe_mode: bool = True) -> Model:
    """Rebuilds an (uncompiled, freshly initialised) model from ``model.to_yaml()``.

    Needs PyYAML (``pip install pyyaml``); raises ``ImportError`` saying so when missing.
    ``safe_mode`` as for ``model_from_json``.
    """
    from gpunet.saving.serialization import model_from_yaml as _f

    return _f(yaml_string, custom_objects, safe_mode=bool(safe_mode))


def clone_model(model: Model, input_tensors: Any = None,
                clone_function: Any = None) -> Model:
    """A new model with the same architecture and freshly initialised weights (not compiled).

    Args:
        model: a ``Sequential`` or ``Functional`` model.
        input_tensors: Functional models only: new ``Input`` tensors to build the clone on
            (default: new Inputs like the original ones).
        clone_function: ``fn(layer) -> new layer`` (default: rebuild from ``get_config``;
            nested models are cloned).

    Example:

    >>> clone = gpunet.models.clone_model(model)
    >>> clone.set_weights(model.get_weights())
    """
    from gpunet.saving.serialization import clone_model as _f

    if isinstance(model, Functional):
        from gpunet.models.functional_config import clone_functional

        return clone_functional(model, input_tensors, clone_function)
    if input_tensors is not None:
        raise ValueError("clone_model: `input_tensors` is only supported for Functional "
                         "models; leave it None for a Sequential model.")
    return _f(model, clone_function)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "model_from_yaml"]
