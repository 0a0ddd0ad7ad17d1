"""Keras legacy HDF5 (``.h5``) files: write them in Keras's layout and read ours and Keras's.

Layout (see Keras's ``legacy/saving``): root attributes ``model_config`` (JSON),
``training_config`` (JSON), ``keras_version``, ``backend``; group ``model_weights`` with
``layer_names`` and one group per layer holding ``weight_names`` and the datasets; group
``optimizer_weights``. ``save_weights`` writes the layer groups at the root. Every file is
written to a temporary file in the same directory and renamed over the target, so a crash
never destroys the previous file.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

KERAS_VERSION = "2.15.0"
_ATTR_LIMIT = 64512


def _h5py():
    import h5py

    return h5py


def _atomic_write(filepath: str, writer, overwrite: bool = True) -> None:
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"File {filepath!r} exists and overwrite=False.")
    d = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".", suffix=".tmp",
                               dir=d)
    os.close(fd)
    try:
        with _h5py().File(tmp, "w") as f:
            writer(f)
            f.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_attributes(group, name: str, data: list) -> None:
    """Stores a list of strings as an attribute, split into ``name0, name1, ...`` chunks
    when it exceeds HDF5's 64 KB attribute limit (as Keras does)."""
    arr = np.array([s.encode("utf8") if isinstance(s, str) else s for s in data], dtype="S")
    if arr.nbytes <= _ATTR_LIMIT or len(arr) == 0:
        group.attrs[name] = arr
        return
    n_chunks = 1
    while True:
        chunks = np.array_split(arr, n_chunks)
        if all(c.nbytes <= _ATTR_LIMIT for c in chunks):
            break
        n_chunks += 1
    for i, c in enumerate(chunks):
        group.attrs[f"{name}{i}"] = c


def load_attributes(group, name: str) -> list[str]:
    """Reads an attribute written by ``save_attributes`` (whole or chunked)."""
    def dec(x):
        return x.decode("utf8") if isinstance(x, bytes) else str(x)

    if name in group.attrs:
        return [dec(x) for x in group.attrs[name]]
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(dec(x) for x in group.attrs[f"{name}{i}"])
        i += 1
    return out


def _weight_names(layer) -> list[str]:
    return [f"{layer.name}/{w.name}:0" for w in layer.weights]


def _write_layers(g, model) -> None:
    from gpunet.backend import backend_of

    layers = model.layers
    save_attributes(g, "layer_names", [layer.name for layer in layers])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = KERAS_VERSION.encode()
    for layer in sorted(layers, key=lambda lyr: lyr.name):
        lg = g.create_group(layer.name)
        names = _weight_names(layer)
        save_attributes(lg, "weight_names", names)
        for n, w in zip(names, layer.weights):
            arr = backend_of(w.data).to_numpy(w.data)
            lg.create_dataset(n, data=arr.astype(np.float32) if arr.dtype.kind == "f" else arr)


def _training_config(model) -> dict:
    from gpunet import losses, optimizers

    cc = model._compile_config or {}

    def ser_metric(m):
        if isinstance(m, str) or m is None:
            return m
        if hasattr(m, "get_config"):
            return {"class_name": type(m).__name__, "config": m.get_config()}
        return getattr(m, "__name__", str(m))

    def ser_list(ms):
        if ms is None:
            return None
        return [ser_metric(m) for m in (ms if isinstance(ms, (list, tuple)) else [ms])]

    return {"loss": losses.serialize(cc.get("loss")), "metrics": ser_list(cc.get("metrics")),
            "weighted_metrics": ser_list(cc.get("weighted_metrics")),
            "loss_weights": cc.get("loss_weights"),
            "optimizer_config": optimizers.serialize(model.optimizer)}


def save_model(model, filepath: str, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Writes architecture, weights and (optionally) optimizer state to ``filepath``."""
    from gpunet.saving.serialization import model_to_config

    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: it has no weights to "
                         "save. Call it on data or give it an input shape first.")
    config = json.dumps(model_to_config(model))

    def write(f):
        f.attrs["keras_version"] = KERAS_VERSION.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["gpunet_version"] = _version().encode()
        f.attrs["model_config"] = config.encode("utf8")
        _write_layers(f.create_group("model_weights"), model)
        opt = model.optimizer
        if include_optimizer and opt is not None and model.compiled:
            f.attrs["training_config"] = json.dumps(_training_config(model)).encode("utf8")
            if opt._groups:
                og = f.create_group("optimizer_weights")
                names = [f"{opt.name}/iteration:0"]
                arrays = [np.array(opt.iterations, dtype=np.int64)]
                for n, a in opt.get_slot_arrays():
                    names.append(n + ":0")
                    arrays.append(a)
                save_attributes(og, "weight_names", names)
                for n, a in zip(names, arrays):
                    og.create_dataset(n, data=a)

    _atomic_write(filepath, write, overwrite)


def save_weights(model, filepath: str, overwrite: bool = True) -> None:
    """Writes only the weights, in Keras's ``save_weights`` ``.h5`` layout."""
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: it has no weights.")
    _atomic_write(filepath, lambda f: _write_layers(f, model), overwrite)


def _version() -> str:
    try:
        from gpunet import __version__

        return __version__
    except ImportError:
        return "0"


def _open(filepath: str):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No file or directory found at {filepath!r}.")
    h5py = _h5py()
    if not h5py.is_hdf5(filepath):
        raise ValueError(f"File {filepath!r} is not an HDF5 file (it may be truncated or in "
                         "another format). gpunet reads Keras-layout .h5 files.")
    try:
        return h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"Could not read HDF5 file {filepath!r}: it is damaged or truncated "
                         f"({e}).") from None


def _layer_groups(g) -> list[tuple[str, list[np.ndarray]]]:
    out = []
    for name in load_attributes(g, "layer_names"):
        if name not in g:
            raise ValueError(f"Weight file is damaged: layer group '{name}' is listed in "
                             "layer_names but missing.")
        lg = g[name]
        wnames = load_attributes(lg, "weight_names")
        try:
            out.append((name, [np.asarray(lg[w]) for w in wnames]))
        except (KeyError, OSError) as e:
            raise ValueError(f"Weight file is damaged: cannot read weights of layer '{name}' "
                             f"({e}).") from None
    return out


def _assign_layers(model, saved, filepath, skip_mismatch=False, by_name=False) -> None:
    layers = [layer for layer in model.layers if layer.weights]
    saved_w = [(n, ws) for n, ws in saved if ws]
    if by_name:
        index = {layer.name: layer for layer in layers}
        pairs = [(index[n], n, ws) for n, ws in saved_w if n in index]
    else:
        if len(saved_w) != len(layers):
            raise ValueError(
                f"Weight file {filepath!r} contains {len(saved_w)} layers with weights, but the "
                f"model has {len(layers)} layers with weights. The file was saved from a "
                "different architecture."
            )
        pairs = [(layer, n, ws) for layer, (n, ws) in zip(layers, saved_w)]
    for layer, name, ws in pairs:
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in ws]
        if expected != got:
            if skip_mismatch:
                continue
            raise ValueError(
                f"Layer '{layer.name}' expects weights of shapes {expected}, but the file "
                f"{filepath!r} has shapes {got} for layer '{name}'."
            )
        layer.set_weights(ws)


def load_weights(model, filepath: str, skip_mismatch: bool = False, by_name: bool = False) -> None:
    """Loads weights saved by ``save_weights`` or ``save`` (gpunet or Keras 2/3 legacy .h5)."""
    with _open(filepath) as f:
        g = f["model_weights"] if "model_weights" in f else f
        if not load_attributes(g, "layer_names"):
            raise ValueError(f"File {filepath!r} holds no Keras weights (no 'layer_names').")
        saved = _layer_groups(g)
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built before loading weights into it.")
    _assign_layers(model, saved, filepath, skip_mismatch, by_name)


def load_model(filepath: str, custom_objects: dict | None = None, compile: bool = True):  # noqa: A002
    """Rebuilds a model saved with ``save`` (gpunet or Keras legacy ``.h5``)."""
    from gpunet.saving.serialization import model_from_config

    with _open(filepath) as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ValueError(f"No model config found in the file at {filepath!r}: it holds only "
                             "weights (use model.load_weights) or is not a Keras model file.")
        cfg = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
        tc = f.attrs.get("training_config")
        tc = json.loads(tc.decode("utf8") if isinstance(tc, bytes) else tc) if tc else None
        saved = _layer_groups(f["model_weights"]) if "model_weights" in f else []
        opt_state = None
        if "optimizer_weights" in f:
            og = f["optimizer_weights"]
            opt_state = [np.asarray(og[n]) for n in load_attributes(og, "weight_names")]
    model = model_from_config(cfg, custom_objects)
    _assign_layers(model, saved, filepath)
    if compile and tc:
        _compile_from(model, tc, custom_objects)
        if opt_state:
            model._pack()
            opt = model.optimizer
            try:
                opt.iterations = int(opt_state[0])
                opt.set_slot_arrays(opt_state[1:])
            except ValueError as e:
                import warnings

                warnings.warn(f"Optimizer state in {filepath!r} could not be restored ({e}); "
                              "the optimizer starts fresh.", stacklevel=2)
                opt.iterations = 0
    return model


def _compile_from(model, tc: dict, custom_objects: dict | None) -> None:
    from gpunet import optimizers

    oc = tc.get("optimizer_config")
    opt = optimizers.deserialize(oc, custom_objects) if oc else "rmsprop"
    loss = tc.get("loss")
    if isinstance(loss, dict) and "class_name" not in loss:
        loss = next(iter(loss.values()))
    if isinstance(loss, dict):
        from gpunet import losses

        loss = losses.get(loss)
    metrics = _plain_metrics(tc.get("metrics"))
    weighted = _plain_metrics(tc.get("weighted_metrics"))
    model.compile(optimizer=opt, loss=loss, metrics=metrics, weighted_metrics=weighted,
                  loss_weights=tc.get("loss_weights"))


def _plain_metrics(ms: Any) -> Any:
    if ms is None:
        return None
    out = []
    for m in ms if isinstance(ms, list) else [ms]:
        if isinstance(m, list):
            out.extend(_plain_metrics(m))
        elif isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper":
            out.append(m.get("config", {}).get("name"))
        else:
            out.append(m)
    return out
