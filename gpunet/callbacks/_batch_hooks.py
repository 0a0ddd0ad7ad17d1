"""Lets a callback switch its train-batch hooks off when its settings do not need them.

``CallbackList`` decides from a callback's *class* whether it overrides a batch hook, and ``fit``
only builds per-batch logs (a host sync per step on a GPU) when some callback overrides
``on_train_batch_end``. A callback such as ``ModelCheckpoint(save_freq="epoch")`` defines the
hook but has nothing to do in it; ``configure_batch_hooks`` (called from ``set_model``, which
``CallbackList`` calls before it inspects the hooks) moves the instance to a cached subclass
whose unneeded batch hooks are the base ``Callback`` no-ops, or back to its own class.
"""

from __future__ import annotations

from gpunet.callbacks.base import Callback

_VARIANTS: dict[tuple[type, tuple[str, ...]], type] = {}
_NAMES = ("on_train_batch_begin", "on_train_batch_end")


def _variant(base: type, drop: tuple[str, ...]) -> type:
    key = (base, drop)
    cls = _VARIANTS.get(key)
    if cls is None:
        ns = {n: getattr(Callback, n) for n in drop}
        ns.update(__module__=base.__module__, __qualname__=base.__qualname__,
                  __doc__=base.__doc__, _gpunet_hooks_base=base)
        cls = _VARIANTS[key] = type(base.__name__, (base,), ns)
    return cls


def configure_batch_hooks(cb: Callback, owner: type, begin: bool, end: bool) -> None:
    """Keeps ``cb``'s ``on_train_batch_begin`` / ``on_train_batch_end`` only where needed.

    Args:
        cb: the callback instance.
        owner: the library class defining the hooks; a user subclass's own overrides are kept.
        begin: whether ``on_train_batch_begin`` is needed.
        end: whether ``on_train_batch_end`` is needed.
    """
    base = type(cb).__dict__.get("_gpunet_hooks_base", type(cb))
    drop = tuple(n for n, keep in zip(_NAMES, (begin, end))
                 if not keep and getattr(base, n) is getattr(owner, n))
    cb.__class__ = _variant(base, drop) if drop else base
