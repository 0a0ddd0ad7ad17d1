"""Keras 3's native ``.keras`` archive: ``save_archive`` and ``load_archive``.

The archive is a zip holding ``metadata.json`` (``keras_version``, ``date_saved``),
``config.json`` (the Keras 3 serialized model with its ``build_config`` and
``compile_config``, see ``keras3_config.py``) and ``model.weights.h5``: Keras 3's weights
layout (``vars``, ``layers/<snake_case class>[_<n>]/vars/0..n`` with nested models and
sublayers under their paths, see ``weights.py``) plus ``optimizer/vars/0..n``: the step count,
the learning rate (when it is a number, not a schedule), then the slot variables in
``optimizer.variables`` order. Archives written by Keras 3 and by gpunet load alike; writes go
to a temporary file renamed into place, so a crash never destroys the previous file.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from gpunet.saving import archive_hooks, optimizer_state, weights
from gpunet.saving.atomic import write_bytes
from gpunet.saving.config_guard import parse_config
from gpunet.saving.h5_guard import write_dataset
from gpunet.saving.h5_utils import h5py
from gpunet.saving.load_errors import loader
from gpunet.saving.zip_guard import JSON_LIMIT, open_weights, open_zip, read_member
from gpunet.weight_budget import weight_budget

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
ARCHIVE_KERAS_VERSION = "3.15.1"


def _compile_config(model) -> dict | None:
    from gpunet import optimizers
    from gpunet.saving.training_config import training_config

    if not (model.compiled and model.optimizer is not None):
        return None
    tc = training_config(model)
    opt = dict(optimizers.serialize(model.optimizer))
    opt = {"module": "keras.optimizers", "class_name": opt["class_name"],
           "config": opt["config"], "registered_name": None}
    return {"optimizer": opt, "loss": tc["loss"], "loss_weights": tc["loss_weights"],
            "metrics": tc["metrics"], "weighted_metrics": tc["weighted_metrics"],
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _optimizer_arrays(opt) -> list[np.ndarray]:
    out = [np.array(opt.iterations, dtype=np.int64)]
    if not callable(getattr(opt, "_learning_rate", None)):
        out.append(np.array(opt.learning_rate, dtype=np.float32))
    return out + [np.asarray(a) for _, a in opt.get_slot_arrays()]


def _weights_bytes(model, include_optimizer: bool) -> bytes:
    buf = io.BytesIO()
    with h5py().File(buf, "w") as f:
        weights.write_k3(f, model)
        opt = model.optimizer
        if include_optimizer and model.compiled and opt is not None:
            model._pack()
            vg = f.create_group("optimizer/vars")
            for i, a in enumerate(_optimizer_arrays(opt)):
                write_dataset(vg, str(i), a)
    return buf.getvalue()


def save_archive(model, filepath: str, overwrite: bool = True,
                 include_optimizer: bool = True) -> None:
    """Writes ``model`` as a Keras 3 ``.keras`` archive (see the module docstring).

    Args:
        model: a built model.
        filepath: the ``.keras`` path.
        overwrite: replace an existing file (else ``FileExistsError``).
        include_optimizer: store the compile arguments and the optimizer state.
    """
    from gpunet.saving.keras3_config import model_config

    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: it has no weights to "
                         "save. Call it on data or give it an input shape first.")
    config = model_config(model)
    config["compile_config"] = (archive_hooks.compile_config(model, _compile_config(model))
                                if include_optimizer else None)
    meta = {"keras_version": ARCHIVE_KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    config_json, meta_json = json.dumps(config), json.dumps(meta)
    blob = _weights_bytes(model, include_optimizer)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(METADATA, meta_json)
        z.writestr(CONFIG, config_json)
        z.writestr(WEIGHTS, blob)
        archive_hooks.write_assets(z, model)
    write_bytes(filepath, buf.getbuffer(), overwrite)


_open = open_zip  # members are size-checked and CRC-checked as they are read (zip_guard)


def _read_json(z: zipfile.ZipFile, name: str, filepath: str) -> dict:
    if name not in z.namelist():
        raise ValueError(f"File {filepath!r} is not a valid Keras 3 '.keras' (zip) archive: it "
                         f"has no {name} (it holds {sorted(z.namelist())}).")
    out = parse_config(read_member(z, name, filepath, JSON_LIMIT), filepath, name)
    if not isinstance(out, dict) or (name == CONFIG and "class_name" not in out):
        raise ValueError(f"File {filepath!r} is not a valid Keras 3 '.keras' (zip) archive: "
                         f"its {name} holds no model (a dict with 'class_name' expected).")
    return out


def _restore_optimizer(model, arrays: list[np.ndarray], filepath: str) -> None:
    opt = model.optimizer
    model._pack()
    n_slots = len(opt.get_slot_arrays())
    extra = len(arrays) - n_slots
    if extra not in (1, 2) or np.ndim(arrays[0]) != 0:
        warnings.warn(f"The optimizer state in {filepath!r} could not be restored (expected "
                      f"{n_slots} slot variables after the step count, the file has "
                      f"{len(arrays)} variables); the optimizer '{opt.name}' starts fresh.",
                      stacklevel=4)
        return
    named = [("iteration", arrays[0])] + ([("learning_rate", arrays[1])] if extra == 2 else [])
    named += [(f"slot_{i}", a) for i, a in enumerate(arrays[extra:])]
    optimizer_state.restore(opt, named, filepath)


@loader()
def load_archive(filepath: str, custom_objects: dict | None = None, compile: bool = True,  # noqa: A002
                 safe_mode: bool = True):
    """Rebuilds a model from a ``.keras`` archive written by gpunet or by Keras 3.

    Args:
        filepath: the archive.
        custom_objects: ``{name: class or function}`` for custom layers, losses, activations.
        compile: compile with the stored ``compile_config`` and restore the optimizer state.
        safe_mode: refuse ``Lambda`` layers stored as Python bytecode.

    Returns:
        The model (compiled when ``compile`` and the archive holds a compile config).
    """
    from gpunet.layers.lambda_layer import safe_mode_scope
    from gpunet.saving.serialization import model_from_config
    from gpunet.saving.training_config import compile_from

    filepath = os.fspath(filepath)
    with _open(filepath) as z:
        cfg = _read_json(z, CONFIG, filepath)
        # the model may create at most as many weight elements as the weights file has bytes
        budget = z.getinfo(WEIGHTS).file_size if WEIGHTS in z.namelist() else 0
        try:
            with safe_mode_scope(bool(safe_mode)), weight_budget(budget, filepath):
                model = model_from_config(cfg, custom_objects)
        except ValueError as e:
            raise ValueError(f"Cannot rebuild the model stored in {filepath!r}: {e}") from None
        if not model.built:
            raise ValueError(f"The model stored in {filepath!r} has no input shape, so its "
                             "weights cannot be placed.")
        if WEIGHTS not in z.namelist():
            raise ValueError(f"File {filepath!r} has a config.json but no {WEIGHTS}: it is "
                             "damaged.")
        opt_arrays = []
        with open_weights(z, WEIGHTS, filepath, model) as f:
            weights.load_into(f, model, f"{filepath}:{WEIGHTS}")
            if "optimizer/vars" in f:
                label = f"{filepath}:{WEIGHTS}"
                opt_arrays = [a for _, a in optimizer_state.read_arrays(
                    [(ds.name, ds) for ds in weights._k3_arrays(f["optimizer/vars"], label)],
                    label, model)]
        archive_hooks.load_assets(z, model, filepath)
    cc = cfg.get("compile_config") if compile else None
    if cc and archive_hooks.compile_from(model, cc, custom_objects):
        if opt_arrays:
            _restore_optimizer(model, opt_arrays, filepath)
    elif cc:
        oc = cc.get("optimizer")
        if isinstance(oc, str):
            oc = {"class_name": oc, "config": {}}
        tc = {"optimizer_config": oc, "loss": cc.get("loss"),
              "metrics": cc.get("metrics"), "weighted_metrics": cc.get("weighted_metrics"),
              "loss_weights": cc.get("loss_weights")}
        compile_from(model, tc, custom_objects)
        if opt_arrays:
            _restore_optimizer(model, opt_arrays, filepath)
    elif compile:
        warnings.warn(f"No compile config found in {filepath!r}, so the model was *not* "
                      "compiled. Compile it manually.", stacklevel=3)
    return model
