"""Whole models in Keras's legacy HDF5 (``.h5``) layout: ``save_model`` and ``load_model``.

Layout (as tf.keras 2 writes it, see ``shared/reference/keras-h5-layout.md``): root
attributes ``keras_version`` and ``backend`` (strings), ``model_config`` and
``training_config`` (JSON); group ``model_weights`` (see ``weights.py``); group
``optimizer_weights`` (see ``optimizer_state.py``). Files written by Keras 2 and by Keras 3's
legacy ``.h5`` writer load too. ``.keras`` paths are handed to ``keras_archive.py`` (Keras 3's
native zip archive). Every file is written to a temporary file in the same
directory, flushed, fsynced and renamed over the target, so a crash never destroys the
previous file.
"""

from __future__ import annotations

import json
import os
import warnings

from gpunet.saving import optimizer_state, weights
from gpunet.saving.config_guard import parse_config
from gpunet.saving.h5_guard import declared_elements, verify_config_digest, write_config_digest
from gpunet.saving.h5_utils import (  # noqa: F401 - load/save_attributes re-exported
    atomic_write,
    load_attributes,
    open_h5,
    read_string_attr,
    save_attributes,
)
from gpunet.saving.load_errors import loader
from gpunet.saving.serialization import KERAS_VERSION, model_from_config, model_to_config
from gpunet.saving.training_config import compile_from, training_config
from gpunet.saving.weights import load_weights, save_weights  # noqa: F401 - old import path
from gpunet.weight_budget import weight_budget


def save_model(model, filepath: str, overwrite: bool = True,
               include_optimizer: bool = True) -> None:
    """Writes architecture, weights, training config and optimizer state to ``filepath``.

    A ``*.keras`` path gets Keras 3's native zip archive (``keras_archive.py``); any other
    path the legacy HDF5 layout.

    Args:
        model: a built model.
        filepath: ``.h5``/``.hdf5`` path, or ``.keras`` for Keras 3's archive.
        overwrite: replace an existing file (else ``FileExistsError``).
        include_optimizer: also store the compile arguments and the optimizer state.
    """
    filepath = os.fspath(filepath)
    if str(filepath).endswith(".keras"):
        from gpunet.saving.keras_archive import save_archive

        save_archive(model, filepath, overwrite, include_optimizer)
        return
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: it has no weights to "
                         "save. Call it on data or give it an input shape first.")
    config = json.dumps(model_to_config(model))
    opt = model.optimizer
    with_opt = include_optimizer and opt is not None and model.compiled
    tc = json.dumps(training_config(model)) if with_opt else None

    def write(f):
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = config.encode("utf8")
        if tc is not None:
            f.attrs["training_config"] = tc.encode("utf8")
        weights.write_legacy(f.create_group("model_weights"), model)
        if with_opt and getattr(opt, "_groups", None):
            optimizer_state.write(f, opt)
        write_config_digest(f)

    atomic_write(filepath, write, overwrite)


def _json_attr(f, name: str, filepath: str):
    raw = read_string_attr(f, name)  # its declared size checked before it is read
    if raw is None:
        return None
    return parse_config(raw, filepath, f"'{name}' attribute")


@loader()
def load_model(filepath: str, custom_objects: dict | None = None, compile: bool = True,  # noqa: A002
               safe_mode: bool = True):
    """Rebuilds a model saved with ``model.save``: gpunet's, Keras 2's or Keras 3's legacy
    ``.h5``, or a Keras 3 native ``.keras`` archive (gpunet's or Keras's).

    Args:
        filepath: the ``.h5`` file or ``.keras`` archive.
        custom_objects: ``{name: class or function}`` for custom layers, losses, activations.
        compile: compile the model with the saved training config and restore the optimizer
            state, so that ``fit`` resumes where it stopped.
        safe_mode: refuse ``Lambda`` layers stored as Python bytecode (they would run code
            from the file); pass False only for files you trust.

    Returns:
        The model (compiled when ``compile`` and the file holds a training config).
    """
    import zipfile

    filepath = os.fspath(filepath)
    if os.path.isfile(filepath) and (zipfile.is_zipfile(filepath)
                                     or str(filepath).endswith(".keras")):
        from gpunet.saving.keras_archive import load_archive

        return load_archive(filepath, custom_objects, compile, safe_mode)
    with open_h5(filepath) as f:
        cfg = _json_attr(f, "model_config", filepath)
        if cfg is None:
            raise ValueError(f"No model config found in the file at {filepath!r}: it holds "
                             "only weights (use model.load_weights) or is not a Keras model "
                             "file.")
        tc = _json_attr(f, "training_config", filepath) if compile else None
        verify_config_digest(f, filepath)
        from gpunet.layers.lambda_layer import safe_mode_scope

        # the model may create at most the weights the file declares (shapes only)
        budget = declared_elements(f["model_weights"]) if "model_weights" in f else 0
        try:
            with safe_mode_scope(bool(safe_mode)), weight_budget(budget, filepath):
                model = model_from_config(cfg, custom_objects)
        except ValueError as e:
            raise ValueError(f"Cannot rebuild the model stored in {filepath!r}: {e}") from None
        if "model_weights" not in f:
            raise ValueError(f"File {filepath!r} has a model config but no 'model_weights' "
                             "group: it is damaged.")
        if not model.built:
            raise ValueError(f"The model stored in {filepath!r} has no input shape, so its "
                             "weights cannot be placed.")
        weights.load_into(f, model, filepath)
        opt_state = optimizer_state.read(f, model, filepath) if tc else []
    if compile:
        if tc is None:
            warnings.warn(f"No training configuration found in {filepath!r}, so the model was "
                          "*not* compiled. Compile it manually.", stacklevel=3)
            return model
        compile_from(model, tc, custom_objects)
        if opt_state:
            model._pack()
            optimizer_state.restore(model.optimizer, opt_state, filepath)
    return model
