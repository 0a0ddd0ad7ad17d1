"""Where Keras 3 stores the variables of subclassed layers and models in ``.weights.h5``.

Keras 3 (``saving_lib._save_state``) writes an object's own variables at ``<path>/vars`` and
then visits its attributes in sorted order (private ones last): a layer attribute goes to
``<path>/<attribute>``, a list/dict/tuple of layers to ``<path>/<attribute>/<snake_case
class>[_<n>]``. Each object is written once, at the first path that reaches it. Sequential and
Functional models list their ``layers`` first; a subclassed ``Model`` also has a ``layers``
attribute, visited at its sorted place, which catches the layers of attributes sorted after
it (``out`` is stored as ``layers/dense_2``). gpunet's built-in layers that Keras builds from
sublayers keep the mapping of ``weights.sublayers``.
"""

from __future__ import annotations

from typing import Any


def is_graph_model(obj: Any) -> bool:
    """Sequential or Functional (their layers are listed, not found through attributes)."""
    from gpunet.models.functional import Functional
    from gpunet.models.sequential import Sequential

    return isinstance(obj, (Functional, Sequential))


def is_composite(layer: Any) -> bool:
    """A user's layer or subclassed model that owns tracked sublayers (or a subclassed model)."""
    from gpunet.models.model import Model

    if isinstance(layer, Model):
        return not is_graph_model(layer)
    tracker = layer.__dict__.get("_tracker")
    return tracker is not None and bool(tracker.layers) and type(layer)._sublayers is type(
        layer).__mro__[-2]._sublayers


def own_variables(layer: Any) -> list:
    """The variables a layer holds itself (not its sublayers'), trainable first."""
    own = layer.__dict__.get("_weights") or []
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def _unique_name(base: str, used: dict) -> str:
    n = used.get(base, 0)
    used[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _container(items: Any, path: str, visited: set, out: list, objects: list | None = None
               ) -> None:
    from gpunet.layers.layer import Layer
    from gpunet.registry import snake_case

    if isinstance(items, dict):
        items = list(items.values())
    used: dict = {}
    for item in items:
        if isinstance(item, Layer):
            name = _unique_name(snake_case(type(item).__name__), used)
            walk(item, f"{path}/{name}", visited, out, objects)
        elif isinstance(item, (list, tuple, dict)) and _holds_layers(item):
            _container(item, f"{path}/{_unique_name('container', used)}", visited, out,
                       objects)


def _holds_layers(value: Any) -> bool:
    from gpunet.layers.layer import Layer

    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, Layer) or (isinstance(v, (list, tuple, dict)) and _holds_layers(v))
               for v in items)


def _attributes(obj: Any) -> list[tuple[str, Any]]:
    """The attributes Keras visits, in its order: sorted, private ones last."""
    from gpunet.layers.layer import Layer
    from gpunet.models.model import Model

    names = [k for k, v in vars(obj).items() if not k.startswith("__") and (
        isinstance(v, Layer) or (isinstance(v, (list, tuple, dict)) and _holds_layers(v)))]
    if isinstance(obj, Model):
        names.append("layers")
    names.sort(key=lambda n: "~" + n if n.startswith("_") else n)
    return [(n, obj.layers if n == "layers" and isinstance(obj, Model) else vars(obj)[n])
            for n in names]


def walk(obj: Any, path: str, visited: set, out: list, objects: list | None = None) -> None:
    """Appends ``(path, name, [variables])`` for ``obj`` and everything below it to ``out``
    (``path`` ``""`` is the file's root), and ``(path, object)`` to ``objects`` if given."""
    from gpunet.layers.layer import Layer
    from gpunet.saving.weights import legacy_weights, sublayers

    if id(obj) in visited:
        return
    visited.add(id(obj))
    if objects is not None:
        objects.append((path, obj))
    prefix = f"{path}/" if path else ""
    if is_graph_model(obj):
        out.append((path, obj.name, []))
        _container(obj.layers, f"{prefix}layers", visited, out, objects)
        return
    if not is_composite(obj):
        subs = sublayers(obj)
        if subs is None:
            out.append((path, obj.name, legacy_weights(obj)))
        else:
            out.append((path, obj.name, []))
            out.extend((f"{prefix}{sub}", name, ws) for sub, name, ws in subs)
        return
    out.append((path, obj.name, own_variables(obj)))
    for attr, value in _attributes(obj):
        if isinstance(value, Layer):
            walk(value, f"{prefix}{attr}", visited, out, objects)
        else:
            _container(value, f"{prefix}{attr}", visited, out, objects)


def layout(root: Any, path: str = "") -> list[tuple[str, str, list]]:
    """``[(path, layer name, [variables])]`` for ``root`` as Keras 3 stores it."""
    out: list = []
    walk(root, path, set(), out)
    return out


def objects(root: Any) -> list[tuple[str, Any]]:
    """``[(path, layer or model)]`` for ``root`` and everything below it, at the paths Keras 3
    uses for their variables and assets (``layers/<snake_case class>``, attributes of
    subclassed objects)."""
    found: list = []
    walk(root, "", set(), [], found)
    return found
