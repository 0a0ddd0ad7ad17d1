"""Automatic tracking of sublayers and variables assigned as layer attributes (Keras 3 rules).

``self.dense = Dense(4)`` in a layer's ``__init__`` makes ``dense`` a sublayer: its weights
join the layer's ``weights``, ``trainable=False`` reaches it, it is saved under the attribute
name. Lists, dicts and tuples of layers (or variables) are tracked too; lists and dicts are
wrapped in ``TrackedList``/``TrackedDict`` so that later ``append``/``[key] =`` are tracked, and
``pop``/``remove``/``del`` untrack. As in Keras 3, reassigning or deleting an attribute that
held a *layer* leaves that layer tracked, while deleting a *variable* attribute untracks it.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.variable import Variable


class Tracker:
    """The tracked sublayers and variables of one layer.

    Args:
        owner: the layer whose attributes are tracked.
    """

    __slots__ = ("owner", "layers", "_ids")

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.layers: list = []
        self._ids: set[int] = set()

    def track(self, value: Any) -> Any:
        """Records ``value`` (a layer, variable or container of them); returns what to store
        (lists and dicts wrapped so that later changes are tracked)."""
        from gpunet.layers.layer import Layer

        if isinstance(value, Layer):
            if value is not self.owner and id(value) not in self._ids:
                self._ids.add(id(value))
                self.layers.append(value)
            return value
        if isinstance(value, Variable):
            own = self.owner._weights
            if not any(v is value for v in own):
                own.append(value)
            return value
        if isinstance(value, (TrackedList, TrackedDict)):
            if value._tracker is not self:
                for item in value._items():
                    self.track(item)
            return value
        if isinstance(value, tuple):
            if hasattr(value, "_fields"):  # namedtuple
                return type(value)(*(self.track(v) for v in value))
            return type(value)(self.track(v) for v in value)
        if isinstance(value, list):
            return TrackedList(value, self)
        if isinstance(value, dict):
            return TrackedDict(value, self)
        return value

    def untrack(self, value: Any) -> None:
        """Forgets ``value`` (and what a container holds)."""
        from gpunet.layers.layer import Layer

        if isinstance(value, Layer):
            if id(value) in self._ids:
                self._ids.discard(id(value))
                self.layers[:] = [x for x in self.layers if x is not value]
        elif isinstance(value, Variable):
            own = self.owner._weights
            own[:] = [v for v in own if v is not value]
        elif isinstance(value, (list, tuple)):
            for v in value:
                self.untrack(v)
        elif isinstance(value, dict):
            for v in value.values():
                self.untrack(v)


class TrackedList(list):
    """A list attribute of a layer: layers and variables added later are tracked too."""

    def __init__(self, values: Any = (), tracker: Tracker | None = None) -> None:
        self._tracker = tracker
        super().__init__(self._t(v) for v in values)

    def _t(self, v: Any) -> Any:
        return v if self._tracker is None else self._tracker.track(v)

    def _u(self, v: Any) -> None:
        if self._tracker is not None:
            self._tracker.untrack(v)

    def _items(self) -> list:
        return list(self)

    def append(self, value: Any) -> None:
        super().append(self._t(value))

    def insert(self, index: int, value: Any) -> None:
        super().insert(index, self._t(value))

    def extend(self, values: Any) -> None:
        super().extend(self._t(v) for v in values)

    def __iadd__(self, values: Any) -> TrackedList:
        self.extend(values)
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        old = self[key]
        if isinstance(key, slice):
            value = [self._t(v) for v in value]
            for v in old:
                self._u(v)
        else:
            value = self._t(value)
            if old is not value:
                self._u(old)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        old = self[key]
        for v in (old if isinstance(key, slice) else [old]):
            self._u(v)
        super().__delitem__(key)

    def pop(self, index: int = -1) -> Any:
        value = super().pop(index)
        self._u(value)
        return value

    def remove(self, value: Any) -> None:
        super().remove(value)
        self._u(value)

    def clear(self) -> None:
        for v in self:
            self._u(v)
        super().clear()


class TrackedDict(dict):
    """A dict attribute of a layer: layers and variables added later are tracked too."""

    def __init__(self, values: Any = (), tracker: Tracker | None = None) -> None:
        self._tracker = tracker
        super().__init__()
        for k, v in dict(values).items():
            self[k] = v

    def _items(self) -> list:
        return list(self.values())

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._tracker is not None:
            value = self._tracker.track(value)
            if key in self and self[key] is not value:
                self._tracker.untrack(self[key])
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        if self._tracker is not None and key in self:
            self._tracker.untrack(self[key])
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self and self._tracker is not None:
            self._tracker.untrack(self[key])
        return super().pop(key, *default)

    def popitem(self) -> tuple:
        key, value = super().popitem()
        if self._tracker is not None:
            self._tracker.untrack(value)
        return key, value

    def clear(self) -> None:
        for v in self.values():
            if self._tracker is not None:
                self._tracker.untrack(v)
        super().clear()


def flatten_layers(layer: Any, include_self: bool = True) -> list:
    """``layer`` and every layer below it (tracked or explicit sublayers), depth first, once."""
    out, seen, stack = [], set(), [layer]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if cur is not layer or include_self:
            out.append(cur)
        stack.extend(reversed(cur._sublayers()))
    return out
