"""Models: ``Model``, ``Sequential``, ``load_model``, ``clone_model``, ``model_from_json``."""

from gpunet.models.model import Model
from gpunet.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, **kwargs):  # noqa: A002
    """Loads a model saved with ``model.save`` (ours or a Keras ``.h5``)."""
    from gpunet.saving.hdf5 import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)


def model_from_json(json_string, custom_objects=None):
    """Rebuilds an (uncompiled, freshly initialised) model from ``model.to_json()``."""
    from gpunet.saving.serialization import model_from_json as _f

    return _f(json_string, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights."""
    from gpunet.saving.serialization import clone_model as _f

    return _f(model, clone_function)


__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json"]
