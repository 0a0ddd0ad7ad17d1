"""Optimizer state in the ``optimizer_weights`` group of a legacy ``.h5`` file.

Written in tf.keras 2.11+'s layout: ``iteration:0`` (int64), then per trainable variable its
slots, interleaved (``Adam/m/dense/kernel:0``, ``Adam/v/dense/kernel:0``, ...). Read from that
layout, from Keras 3's (``adam/iteration``, ``adam/learning_rate``, then
``adam/<var>_momentum``, ``..._velocity`` per variable) and from the legacy Keras 2
optimizers' (``Adam/iter:0``, then every ``m`` slot, then every ``v`` slot).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gpunet.saving.h5_guard import get_dataset, read_dataset, write_dataset
from gpunet.saving.h5_utils import has_attribute, load_attributes, save_attributes
from gpunet.saving.load_errors import file_error

# gpunet slot name -> tf.keras 2 slot name, per optimizer class (others keep their names).
_K2_SLOTS = {
    "Adam": {"momentum": "m", "velocity": "v", "velocity_hat": "vhat"},
    "AdamW": {"momentum": "m", "velocity": "v", "velocity_hat": "vhat"},
    "Nadam": {"momentum": "m", "velocity": "v"},
    "Adamax": {"momentum": "m", "norm": "u"},
    "SGD": {"momentum": "m"},
}
_STEP_NAMES = ("iteration", "iter", "iterations")


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _k2_names(opt, names: list[str]) -> list[str]:
    """Keras 2 spelling of ``get_slot_arrays()`` names ``<opt>/<var path with _>_<slot>``:
    ``<Class>/<k2 slot>/<var path>:0`` (unrecognised names keep their tail)."""
    cls = type(opt).__name__
    table = _K2_SLOTS.get(cls, {})
    slots = tuple(getattr(opt, "_base_slot_names", ())) + tuple(opt.slot_names)
    known = {f"{getattr(v, 'path', v.name).replace('/', '_')}_{s}": (v, s)
             for v in getattr(opt, "variables", []) for s in slots}
    out = []
    for n in names:
        tail = n.split("/", 1)[1] if "/" in n else n
        if tail in known:
            v, s = known[tail]
            out.append(f"{cls}/{table.get(s, s)}/{getattr(v, 'path', v.name)}:0")
        else:
            out.append(f"{cls}/{tail}:0")
    return out


def write(f, opt) -> None:
    """Writes ``opt``'s step count and slots into a new ``optimizer_weights`` group of ``f``."""
    slots = opt.get_slot_arrays()
    names = _k2_names(opt, [n for n, _ in slots])
    if len(set(names)) != len(names):
        names = [f"{n}:{i}" for i, (n, _) in enumerate(slots)]
    og = f.create_group("optimizer_weights")
    all_names = ["iteration:0"] + names
    save_attributes(og, "weight_names", all_names)
    write_dataset(og, "iteration:0", np.array(opt.iterations, dtype=np.int64))
    for n, (_, a) in zip(names, slots):
        write_dataset(og, n, np.asarray(a))


def limits(model) -> tuple[int, int]:
    """``(most arrays, most elements per array)`` an optimizer of ``model`` can store: a few
    slots per weight (plus step count and learning rate), none larger than the largest
    weight."""
    ws = list(model.weights)
    return 8 * len(ws) + 8, max([int(np.prod(w.shape)) for w in ws] + [1])


def read_arrays(datasets: list[tuple[str, Any]], filepath: str,
                model=None) -> list[tuple[str, np.ndarray]]:
    """Reads optimizer ``(name, dataset)`` pairs after checking their dtypes and, given the
    ``model``, their number and sizes (so a hostile file cannot declare huge slots)."""
    if model is not None:
        most, biggest = limits(model)
        if len(datasets) > most:
            raise file_error(filepath, f"its optimizer state holds {len(datasets)} arrays, "
                                       f"more than the {most} an optimizer of this model has")
        for n, ds in datasets:
            size = int(np.prod(ds.shape, dtype=np.float64))
            if size > biggest:
                raise file_error(filepath, f"optimizer variable '{n}' declares shape {ds.shape}, "
                                           f"larger than any weight of the model ({biggest} "
                                           "elements)")
    return [(n, read_dataset(ds, filepath, f"optimizer variable '{n}'")) for n, ds in datasets]


def read(f, model=None, filepath: str | None = None) -> list[tuple[str, np.ndarray]]:
    """``[(name, array)]`` from the ``optimizer_weights`` group of ``f`` (empty if none);
    with ``model``, sizes are checked against it before anything is read."""
    if "optimizer_weights" not in f:
        return []
    og = f["optimizer_weights"]
    filepath = filepath or str(f.filename)
    if not has_attribute(og, "weight_names"):
        raise file_error(filepath, "the file is damaged: its 'optimizer_weights' group has no "
                                   "'weight_names' attribute")
    named = [(n, get_dataset(og, n, filepath, f"optimizer variable '{n}'"))
             for n in load_attributes(og, "weight_names")]
    return read_arrays(named, filepath, model)


def _var_major(named: list[tuple[str, np.ndarray]], n_vars: int) -> list[np.ndarray]:
    """Legacy Keras 2 order (every ``m``, then every ``v``) → per-variable interleaved."""
    by_slot: dict[str, list[np.ndarray]] = {}
    for n, a in named:
        by_slot.setdefault(_base(n), []).append(a)
    if n_vars == 0 or any(len(v) != n_vars for v in by_slot.values()):
        return [a for _, a in named]
    lists = list(by_slot.values())
    return [lst[i] for i in range(n_vars) for lst in lists]


def restore(opt, state: list[tuple[str, Any]], filepath: str) -> None:
    """Sets ``opt.iterations`` and slots from ``read`` output; on a mismatch warns and leaves
    the optimizer freshly initialised (as Keras does)."""
    iters, legacy, slots = None, False, []
    for n, a in state:
        base = _base(n)
        if base in _STEP_NAMES and np.ndim(a) == 0:
            iters, legacy = int(a), legacy or base == "iter"
        elif base != "learning_rate":
            slots.append((n, a))
    if not slots and not iters:  # saved before its first step: nothing to restore
        opt.iterations = 0
        return
    n_vars = len(getattr(opt, "variables", []))
    arrays = _var_major(slots, n_vars) if legacy else [a for _, a in slots]
    try:
        expected = [tuple(np.shape(a)) for _, a in opt.get_slot_arrays()]
        got = [tuple(np.shape(a)) for a in arrays]
        if expected != got:
            raise ValueError(f"expected {len(expected)} slot arrays of shapes {expected}, the "
                             f"file has {len(got)} of shapes {got}")
        opt.set_slot_arrays(arrays)
        opt.iterations = iters or 0
    except ValueError as e:
        warnings.warn(f"The optimizer state in {filepath!r} could not be restored ({e}); the "
                      f"optimizer '{opt.name}' starts fresh.", stacklevel=3)
        opt.iterations = 0
