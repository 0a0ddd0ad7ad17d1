"""What a checkpoint must know besides the weights: the random state, and whether the weights
are finite at all.

The random state of a ``fit`` is: the model backend's generator (shuffling of in-memory data,
unseeded ``Dropout`` and noise layers), every ``SeedStream`` a layer owns (``Dropout(seed=…)``,
seeded recurrent dropout, seeded augmentation), and the host generators (unseeded
augmentation, ``Sequence`` shuffling through NumPy's global generator). Streams are found by
walking the model's layers and are keyed by their position (layer index in depth-first order,
attribute names), so a model rebuilt in a new process finds its streams again.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gpunet.backend import backend_of
from gpunet.backend import random as grandom


def _streams(model: Any) -> dict[str, grandom.SeedStream]:
    """The ``SeedStream``s the model's layers hold (directly, or inside a helper object)."""
    out: dict[str, grandom.SeedStream] = {}
    seen: set[int] = set()
    layers = model._flatten_layers(include_self=True)
    layer_ids = {id(x) for x in layers}

    def add(key: str, stream: grandom.SeedStream) -> None:
        if id(stream) not in seen:
            seen.add(id(stream))
            out[key] = stream

    for i, layer in enumerate(layers):
        for attr, value in vars(layer).items():
            if isinstance(value, grandom.SeedStream):
                add(f"{i}/{attr}", value)
            elif (id(value) not in layer_ids and hasattr(value, "__dict__")
                  and type(value).__module__.startswith("gpunet.")):
                for sub, inner in vars(value).items():
                    if isinstance(inner, grandom.SeedStream):
                        add(f"{i}/{attr}/{sub}", inner)
    return out


def random_state(model: Any) -> dict:
    """The random state of a ``fit`` of ``model`` (see the module doc), JSON-able.

    On CuPy this re-keys the device generators (cuRAND cannot export its state): call it at
    the same point of every run that is to be resumable.
    """
    return {"version": 1,
            "backend": {"name": model.backend.name,
                        "state": grandom.generator_state(model.backend)},
            "host": grandom.host_state(),
            "streams": {k: s.get_state() for k, s in _streams(model).items()}}


def set_random_state(model: Any, state: dict, where: str) -> None:
    """Puts back what ``random_state`` returned; ``where`` names the file in errors."""
    try:
        saved = state["backend"]
        if saved["name"] != model.backend.name:
            warnings.warn(f"BackupAndRestore: the backup in {where!r} was made on the "
                          f"{saved['name']} backend and the model now runs on "
                          f"{model.backend.name}: the shuffling and dropout streams cannot be "
                          "restored, so the resumed run draws other random numbers.",
                          stacklevel=4)
        else:
            grandom.set_generator_state(model.backend, saved["state"])
        grandom.set_host_state(state["host"])
        streams, saved_streams = _streams(model), state["streams"]
        for key, stream in streams.items():
            stream.set_state(saved_streams.get(key, {}))
        missing = sorted(set(saved_streams) - set(streams))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"BackupAndRestore: the random state in {where!r} cannot be restored "
                         f"({type(e).__name__}: {e}). Delete or move the backup folder to start "
                         "afresh.") from None
    if missing:
        warnings.warn(f"BackupAndRestore: the backup in {where!r} holds random streams "
                      f"{missing} that this model does not have (another architecture?).",
                      stacklevel=4)


def nonfinite(model: Any, extra: list | None = None) -> list[str]:
    """Names of the model's weights (and of the ``(name, host array)`` pairs in ``extra``)
    holding NaN or Inf. One device-to-host read per backend, not one per weight."""
    by_backend: dict[int, tuple[Any, list, list]] = {}
    for v in model.weights:
        a = v.data
        if a.dtype.kind not in "fc":
            continue
        b = backend_of(a)
        _, flags, names = by_backend.setdefault(id(b), (b, [], []))
        flags.append(b.xp.isfinite(a).all())
        names.append(v.path)
    bad = []
    for b, flags, names in by_backend.values():
        ok = b.to_numpy(b.xp.stack(flags))
        bad += [n for n, f in zip(names, ok) if not f]
    for name, a in extra or []:
        a = np.asarray(a)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            bad.append(name)
    return bad
