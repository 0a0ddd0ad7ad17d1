"""Layer weights in HDF5: the Keras 2 legacy layout and Keras 3's ``.weights.h5`` layout.

* Legacy (``model.save`` and ``save_weights("w.h5")``): attribute ``layer_names``, one group
  per layer with attribute ``weight_names`` and one dataset per name
  (``dense/dense/kernel:0``), plus an empty ``top_level_model_weights`` group. Loading is by
  order (layers that own weights, in model order) or, with ``by_name=True``, by layer name.
* Keras 3 (``save_weights("w.weights.h5")``): ``layers/<snake_case class>[_<n>]/vars/0, 1, ...``
  where ``n`` counts earlier layers of the same class; the ``vars`` group carries the layer
  name as attribute ``name``. Layers that Keras 3 builds from sublayers keep their weights
  under the sublayer's attribute (``multi_head_attention/query_dense/vars``,
  ``lstm/cell/vars``, ``bidirectional/forward_layer/cell/vars``; see ``sublayers``), while
  gpunet keeps them flat: they are mapped both ways. Loading matches these paths.

Writes go through ``atomic_write``; every array is written with its own dtype (float32 for a
float32 model) as a host NumPy array, so files do not depend on the device.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gpunet.registry import snake_case
from gpunet.saving.h5_guard import get_dataset, read_dataset, write_dataset
from gpunet.saving.h5_utils import (
    atomic_write,
    has_attribute,
    load_attributes,
    open_h5,
    read_string_attr,
    save_attributes,
)
from gpunet.saving.load_errors import loader
from gpunet.saving.serialization import KERAS_VERSION


def legacy_weights(layer) -> list:
    """A layer's weights in the H5 order: trainable then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def host(w) -> np.ndarray:
    """The weight's value as a NumPy array (copied off the device when needed)."""
    from gpunet.backend import backend_of

    return np.asarray(backend_of(w.data).to_numpy(w.data))


def weight_names(layer) -> list[str]:
    """Keras 2 names ``<layer>/<variable>:0``, made unique within the layer."""
    out, seen = [], set()
    for w in legacy_weights(layer):
        base = getattr(w, "path", None) or f"{layer.name}/{w.name}"
        name, i = base, 1
        while name in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name)
        out.append(name + ":0")
    return out


# -- Keras 2 legacy layout ---------------------------------------------------------------------
def write_legacy(g, model) -> None:
    """Writes ``layer_names`` and the per-layer groups of ``model`` into group ``g``."""
    layers = model.layers
    save_attributes(g, "layer_names", [layer.name for layer in layers])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    for layer in sorted(layers, key=lambda lyr: lyr.name):
        lg = g.create_group(layer.name)
        names = weight_names(layer)
        save_attributes(lg, "weight_names", names)
        for n, w in zip(names, legacy_weights(layer)):
            write_dataset(lg, n, host(w))
    save_attributes(g.create_group("top_level_model_weights"), "weight_names", [])


def read_legacy(g, filepath: str) -> list[tuple[str, list]]:
    """``[(layer name, [datasets])]`` in ``layer_names`` order; the datasets are checked
    (numeric, stored in the file) but not read yet (see ``_assign``)."""
    out = []
    for name in load_attributes(g, "layer_names"):
        if name not in g:
            raise ValueError(f"Weight file {filepath!r} is damaged: layer group '{name}' is "
                             "listed in layer_names but missing.")
        lg = g[name]
        out.append((name, [get_dataset(lg, w, filepath, f"weight '{w}' of layer '{name}'")
                           for w in load_attributes(lg, "weight_names")]))
    return out


# -- Keras 3 .weights.h5 layout ----------------------------------------------------------------
def k3_paths(layers, prefix: str = "layers", models: bool = False) -> list[tuple[Any, str]]:
    """``[(leaf layer, "layers/dense_1")]`` as Keras 3 names them; nested models are recursed
    into (and listed too when ``models``)."""
    from gpunet.models.model import Model

    out, counts = [], {}
    for layer in layers:
        base = snake_case(type(layer).__name__)
        counts[base] = counts.get(base, -1) + 1
        path = f"{prefix}/{base}" + (f"_{counts[base]}" if counts[base] else "")
        if isinstance(layer, Model):
            if models:
                out.append((layer, path))
            out.extend(k3_paths(layer.layers, path + "/layers", models))
        else:
            out.append((layer, path))
    return out


def sublayers(layer) -> list[tuple[str, str, list]] | None:
    """Keras 3 sublayers holding a flat gpunet layer's weights: ``[(path below the layer,
    sublayer name, [weights])]``, or None when the layer keeps its own variables (``vars``).

    Keras 3's ``MultiHeadAttention`` holds its projections in the EinsumDense sublayers
    ``query_dense``, ``key_dense``, ``value_dense`` and ``output_dense``; its recurrent layers
    hold theirs in ``cell``; ``Bidirectional`` in ``forward_layer``/``backward_layer`` and
    ``TimeDistributed`` in ``layer`` (recursively). gpunet keeps them flat on the layer.
    """
    from gpunet.layers.attention import MultiHeadAttention
    from gpunet.layers.recurrent import RNNBase
    from gpunet.layers.rnn_cells import StackedRNNCells
    from gpunet.layers.rnn_generic import RNN
    from gpunet.layers.rnn_wrappers import Bidirectional, TimeDistributed
    from gpunet.registry import snake_case

    if not legacy_weights(layer):
        return None
    if isinstance(layer, MultiHeadAttention):
        return [(f"{p}_dense", n, [w for w in (getattr(layer, f"{p}_kernel"),
                                               getattr(layer, f"{p}_bias")) if w is not None])
                for p, n in (("query", "query"), ("key", "key"), ("value", "value"),
                             ("output", "attention_output"))]
    if isinstance(layer, RNNBase):
        return [("cell", f"{layer.name}_cell", legacy_weights(layer))]
    if isinstance(layer, RNN):  # RNN(cell), ConvLSTM: ``cell``; stacked: ``cell/cells/<name>``
        if isinstance(layer.cell, StackedRNNCells):
            seen: dict[str, int] = {}
            out = []
            for c in layer.cell.cells:
                base = snake_case(type(c).__name__)
                n = seen.get(base, 0)
                seen[base] = n + 1
                key = base if n == 0 else f"{base}_{n}"
                out.append((f"cell/cells/{key}", c.name, legacy_weights(c)))
            return out
        return [("cell", getattr(layer.cell, "name", "cell"), legacy_weights(layer))]
    if isinstance(layer, (Bidirectional, TimeDistributed)):
        subs = ([("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)]
                if isinstance(layer, Bidirectional) else [("layer", layer.layer)])
        out = []
        for attr, sub in subs:
            inner = sublayers(sub)
            if inner is None:
                out.append((attr, sub.name, legacy_weights(sub)))
            else:
                out.extend((f"{attr}/{p}", n, ws) for p, n, ws in inner)
        return out
    return None


def _write_vars(f, path: str, name: str, arrays: list) -> None:
    vg = f.create_group(f"{path}/vars" if path else "vars")
    vg.attrs["name"] = name
    for i, a in enumerate(arrays):
        write_dataset(vg, str(i), a)


def write_k3(f, model) -> None:
    """Writes ``model``'s weights in Keras 3's ``.weights.h5`` layout into file ``f`` (paths of
    subclassed layers and models as ``k3_layout`` finds them)."""
    from gpunet.saving.archive_hooks import user_defined
    from gpunet.saving.k3_layout import layout, objects

    by_path = dict(objects(model))
    for path, name, ws in layout(model):
        obj = by_path.get(path)
        if obj is not None and user_defined(obj, "save_own_variables"):
            store: dict = {}
            obj.save_own_variables(store)  # the user's choice of what is stored (Keras 3)
            vg = f.create_group(f"{path}/vars" if path else "vars")
            vg.attrs["name"] = name
            for key, value in store.items():
                write_dataset(vg, str(key), np.asarray(host(value) if hasattr(
                    value, "data") else value))
            continue
        _write_vars(f, path, name, [host(w) for w in ws])


def _k3_arrays(vg, filepath: str) -> list:
    """The datasets ``0, 1, ...`` of a ``vars`` group, checked but not read yet."""
    keys = sorted(vg.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
    return [get_dataset(vg, k, filepath, f"'{vg.name}/{k}'") for k in keys]


def _k3_vars(f, path: str, layer, filepath: str) -> list | None:
    """The arrays of ``layer`` stored at ``path``, in ``legacy_weights`` order: its own
    ``vars``, or its Keras 3 sublayers' ``<path>/<sub>/vars`` (also under Keras 3.0's private
    ``_<sub>`` names). None when ``path`` holds nothing for it."""
    own = f.get(path + "/vars")
    subs = sublayers(layer)
    if subs is not None:
        by_id, flat = {}, []
        for sub, _, ws in subs:
            vg = f.get(f"{path}/{sub}/vars")
            if vg is None:
                head, _, tail = sub.partition("/")
                vg = f.get(f"{path}/_{head}{'/' + tail if tail else ''}/vars")
            if vg is None:
                flat = None
                break
            arrays = _k3_arrays(vg, filepath)
            flat.extend(arrays)
            if len(arrays) == len(ws):
                by_id.update({id(w): a for w, a in zip(ws, arrays)})
        if flat is not None:
            order = legacy_weights(layer)
            if all(id(w) in by_id for w in order):
                return [by_id[id(w)] for w in order]
            return flat  # a count mismatch: reported by _assign
        if own is not None and len(own) == 0:
            return None
    return None if own is None else _k3_arrays(own, filepath)


def _k3_container(f) -> str | None:
    for c in ("layers", "_layer_checkpoint_dependencies"):
        if c in f:
            return c
    return None


def _k3_named(f, container: str) -> dict[str, str]:
    """``{layer name: path}`` from the ``name`` attributes of the ``vars`` groups."""
    found: dict[str, str] = {}

    def visit(name, obj):
        if name.endswith("/vars") and "name" in obj.attrs:
            found.setdefault(read_string_attr(obj, "name"), f"{container}/{name[:-5]}")

    f[container].visititems(visit)
    return found


# -- matching and assigning --------------------------------------------------------------------
def _shapes(xs) -> list[tuple]:
    return [tuple(x.shape) for x in xs]


def _assign(pairs, filepath: str, skip_mismatch: bool) -> None:
    """Checks every ``(layer, saved label, datasets)`` pair's shapes, then reads them all
    (verifying their checksums), then assigns: all or nothing, and nothing is read from a
    file whose shapes do not match the model."""
    plan = []
    for layer, label, arrays in pairs:
        ws = legacy_weights(layer)
        exp, got = _shapes(ws), _shapes(arrays)
        if exp != got:
            what = "weight count" if len(exp) != len(got) else "weight shape"
            msg = (f"{what.capitalize()} mismatch for layer '{layer.name}' "
                   f"({type(layer).__name__}): it expects {len(exp)} weight(s) of shapes {exp}, "
                   f"but {filepath!r} holds {len(got)} weight(s) of shapes {got} for "
                   f"{label}.")
            if skip_mismatch:
                warnings.warn("Skipping loading of weights: " + msg, stacklevel=4)
                continue
            raise ValueError(msg)
        plan.append((ws, arrays))
    plan = [(ws, [_read(a, filepath, f"the weight of shape {tuple(a.shape)} for layer "
                                      f"'{w.path if hasattr(w, 'path') else w.name}'")
                  for w, a in zip(ws, arrays)]) for ws, arrays in plan]
    for ws, arrays in plan:
        for w, a in zip(ws, arrays):
            w.assign(a)


def _read(a, filepath: str, what: str) -> np.ndarray:
    return np.asarray(a) if isinstance(a, np.ndarray) else read_dataset(a, filepath, what)


def _pairs_legacy(model, saved, filepath: str, by_name: bool) -> list:
    saved_w = [(n, ws) for n, ws in saved if ws]
    if by_name:
        index = {layer.name: layer for layer in model.layers}
        return [(index[n], f"layer '{n}'", ws) for n, ws in saved_w if n in index]
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    if len(saved_w) != len(layers):
        raise ValueError(
            f"Layer count mismatch when loading weights from {filepath!r}: the model "
            f"'{model.name}' has {len(layers)} layers with weights "
            f"({[layer.name for layer in layers]}), the file has {len(saved_w)} "
            f"({[n for n, _ in saved_w]}). The file was saved from a different architecture "
            "(use by_name=True to load matching layers only)."
        )
    return [(layer, f"saved layer '{n}'", ws) for layer, (n, ws) in zip(layers, saved_w)]


def _pairs_k3(f, model, container: str, filepath: str, by_name: bool,
              skip_mismatch: bool) -> list:
    if by_name:
        named = _k3_named(f, container)
        if not named:
            raise ValueError(f"by_name=True: {filepath!r} records no layer names (an older "
                             "Keras 3 weights file); load it by structure (by_name=False).")
        return [(layer, f"layer '{layer.name}'",
                 _k3_vars(f, named[layer.name], layer, filepath) or [])
                for layer, _ in k3_paths(model.layers) if layer.name in named]
    from gpunet.saving.k3_layout import is_composite

    if is_composite(model):
        return _pairs_layout(f, model, container, filepath, skip_mismatch)
    pairs = []
    for layer, path in k3_paths(model.layers, container):
        if not legacy_weights(layer):
            continue
        if is_composite(layer):
            pairs.extend(_pairs_layout(f, layer, container, filepath, skip_mismatch, path))
            continue
        arrays = _k3_vars(f, path, layer, filepath)
        if arrays is None:
            where = f"'{path}/vars'"
            if sublayers(layer):
                where += " or " + ", ".join(f"'{path}/{a}/vars'" for a, _ in sublayers(layer))
            msg = (f"{filepath!r} has no weights for layer '{layer.name}' "
                   f"({type(layer).__name__}), expected at {where}. The file was "
                   "saved from a different architecture.")
            if skip_mismatch:
                warnings.warn("Skipping loading of weights: " + msg, stacklevel=3)
                continue
            raise ValueError(msg)
        pairs.append((layer, f"'{path}'", arrays))
    return pairs


class _Vars:
    """The own variables of one stored object, in the shape ``_assign`` expects of a layer."""

    def __init__(self, name: str, ws: list, kind: str) -> None:
        self.name, self.trainable_weights, self.non_trainable_weights = name, list(ws), []
        self.kind = kind


def _pairs_layout(f, root, container: str, filepath: str, skip_mismatch: bool,
                  path: str = "") -> list:
    """Pairs for a subclassed model or layer: each object's own ``vars`` at its Keras 3 path
    (``layers`` as the container name of the file is kept as written)."""
    from gpunet.saving.k3_layout import layout

    pairs = []
    for p, name, ws in layout(root, path):
        if not ws:
            continue
        vg = f.get(f"{p}/vars")
        if vg is None:
            msg = (f"{filepath!r} has no weights for '{name}' of {type(root).__name__} "
                   f"'{root.name}', expected at '{p}/vars'. The file was saved from a "
                   "different architecture.")
            if skip_mismatch:
                warnings.warn("Skipping loading of weights: " + msg, stacklevel=4)
                continue
            raise ValueError(msg)
        pairs.append((_Vars(name, ws, type(root).__name__), f"'{p}'", _k3_arrays(vg, filepath)))
    return pairs


def load_into(f, model, filepath: str, skip_mismatch: bool = False,
              by_name: bool = False) -> None:
    """Loads weights from an open file or group in either layout into a built model."""
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built before loading weights into it: "
                         "give it an input shape (Input(...)) or call it on data first.")
    g = f["model_weights"] if "model_weights" in f else f
    from gpunet.saving.k3_layout import is_composite

    if has_attribute(g, "layer_names"):
        pairs = _pairs_legacy(model, read_legacy(g, filepath), filepath, by_name)
    elif is_composite(model) and "vars" in f and not by_name:
        pairs = _pairs_layout(f, model, "layers", filepath, skip_mismatch)
    elif _k3_container(f) is not None:
        pairs = _pairs_k3(f, model, _k3_container(f), filepath, by_name, skip_mismatch)
    else:
        raise ValueError(f"File {filepath!r} holds no Keras weights: no 'layer_names' "
                         "attribute (Keras 2 .h5) and no 'layers' group (Keras 3 "
                         ".weights.h5).")
    hooks = [] if has_attribute(g, "layer_names") or by_name else _own_loaders(f, model)
    if hooks:  # the user's load_own_variables gets its stored entries instead (Keras 3)
        taken = {f"'{p}'" for p, _, _ in hooks}
        pairs = [pr for pr in pairs if pr[1] not in taken]
    _assign(pairs, filepath, skip_mismatch)
    for _, obj, vg in hooks:
        obj.load_own_variables({k: _read(vg[k], filepath, f"'{vg.name}/{k}'")
                                for k in vg.keys()})


def _own_loaders(f, model) -> list:
    """``(path, object, vars group)`` of the objects whose ``load_own_variables`` is the
    user's and whose ``vars`` the file holds."""
    from gpunet.saving.archive_hooks import user_defined
    from gpunet.saving.k3_layout import objects

    out = []
    for path, obj in objects(model):
        vg = f.get(f"{path}/vars" if path else "vars")
        if vg is not None and user_defined(obj, "load_own_variables"):
            out.append((path, obj, vg))
    return out


def save_weights(model, filepath: str, overwrite: bool = True) -> None:
    """Writes the weights: Keras 3 layout for ``*.weights.h5``, else the Keras 2 layout."""
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: it has no weights to "
                         "save. Give it an input shape or call it on data first.")
    k3 = str(filepath).endswith(".weights.h5")
    atomic_write(filepath, (lambda f: write_k3(f, model)) if k3 else
                 (lambda f: write_legacy(f, model)), overwrite)


@loader(1)
def load_weights(model, filepath: str, skip_mismatch: bool = False,
                 by_name: bool = False) -> None:
    """Loads weights saved by ``save_weights``/``save`` (gpunet, Keras 2 or Keras 3), also
    from the ``model.weights.h5`` inside a ``.keras`` archive."""
    import os
    import zipfile

    if os.path.isfile(filepath) and zipfile.is_zipfile(filepath):
        from gpunet.saving.keras_archive import WEIGHTS
        from gpunet.saving.zip_guard import open_weights, open_zip

        with open_zip(os.fspath(filepath)) as z:
            if WEIGHTS not in z.namelist():
                raise ValueError(f"Archive {str(filepath)!r} holds no {WEIGHTS}.")
            with open_weights(z, WEIGHTS, os.fspath(filepath), model) as f:
                load_into(f, model, f"{filepath}:{WEIGHTS}", skip_mismatch, by_name)
        return
    with open_h5(filepath) as f:
        load_into(f, model, str(filepath), skip_mismatch, by_name)
