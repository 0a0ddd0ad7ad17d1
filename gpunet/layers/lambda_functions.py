"""Functions in ``Lambda`` configs: saving them, and the allow-list that loads them.

A ``Lambda`` config names its ``function`` (and ``output_shape``) in one of three forms:
``"function"`` (a name, with the module it came from), ``"lambda"`` (marshalled Python
bytecode, Keras 2's form) or ``"raw"`` (a shape: ints and None, nested lists of them).

Loading is an allow-list. In safe mode (the default of every loader and of ``from_config``,
as in Keras 3) a name resolves only to

- a custom object: ``custom_objects=`` of the loader, ``custom_object_scope`` or
  ``gpunet.registry.register_serializable``;
- a public ``gpunet.ops`` function or a registered gpunet activation, when the config names
  no module or one of gpunet's (or Keras's equivalent) modules.

Nothing else is looked up: no module a file names is imported or searched, and bytecode is
refused. ``safe_mode=False`` restores the trusted-file behaviour (module import, bytecode).
"""

from __future__ import annotations

import builtins
import codecs
import importlib
import json
import marshal
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from gpunet import ops, registry

# Modules whose functions a config may name in safe mode, resolved through fixed tables only.
_OPS_MODULES = ("gpunet.ops", "keras.ops", "keras.src.ops", "keras.src.backend")
_ACTIVATION_MODULES = ("gpunet.activations", "gpunet.extra_activations", "keras.activations",
                       "keras.src.activations")
# Keras 3 writes ``"module": "builtins"`` for its own functions (resolved by name among its
# catalogue modules, never as Python's builtins); ``"keras"`` for top-level symbols.
_BY_NAME_MODULES = ("builtins", "keras")


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _gpunet_function(name: str, module: str | None) -> Any:
    """The allow-listed gpunet function called ``name`` (None when there is none)."""
    op = getattr(ops, name, None) if name in ops.__all__ else None
    act = registry._REGISTRY.get("activation", {}).get(name)
    if module is None or _within(module, _BY_NAME_MODULES):
        return op if op is not None else act
    if _within(module, _OPS_MODULES):
        return op
    if _within(module, _ACTIVATION_MODULES):
        return act if act is not None else op
    return None


def refusal(layer: str, what: str, refused: str, reason: str) -> ValueError:
    """The one error a refused ``Lambda`` config raises: what, why, and how to opt in."""
    return ValueError(
        f"Lambda layer '{layer}': its `{what}` is {refused}, which safe mode refuses: {reason}. "
        "If you trust the source of this model, load it with `safe_mode=False` "
        "(load_model(path, safe_mode=False), model_from_json(text, safe_mode=False), or "
        "`with gpunet.saving.SafeModeScope(False):` around from_config); if it is your own "
        "function, pass it in `custom_objects` or register it with "
        "gpunet.registry.register_serializable().")


# -- saving -----------------------------------------------------------------------------------
def is_named(fn: Any) -> bool:
    """A module-level function reachable as ``module.name`` (saved by name, not bytecode)."""
    name = getattr(fn, "__name__", "")
    if not name or name == "<lambda>" or getattr(fn, "__qualname__", name) != name:
        return False
    mod = sys.modules.get(getattr(fn, "__module__", None) or "")
    return mod is not None and getattr(mod, name, None) is fn


def func_dump(fn: Callable) -> list:
    """``[base64 bytecode, defaults, closure values]`` of a Python function (Keras 2's form)."""
    code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
    closure = [c.cell_contents for c in fn.__closure__] if fn.__closure__ else None
    defaults = list(fn.__defaults__) if fn.__defaults__ else None
    for what, value in (("defaults", defaults), ("closure", closure)):
        try:
            json.dumps(value)
        except TypeError:
            raise ValueError(f"The function {fn.__qualname__!r} cannot be saved: the values "
                             f"in its {what} are not JSON-serializable ({value!r}). Use "
                             "`arguments=` for constants, or a named module-level function."
                             ) from None
    return [code, defaults, closure]


def func_load(dumped: Any, globs: dict) -> Callable:
    """Rebuilds a function from ``func_dump`` output (Keras 2's ``func_load``).

    This runs code from the config: callers check safe mode first (``fn_from_config``).
    """
    if isinstance(dumped, (list, tuple)):
        code, defaults, closure = (list(dumped) + [None, None])[:3]
    else:
        code, defaults, closure = dumped, None, None
    try:
        raw = codecs.decode(code.encode("ascii"), "base64")
        code_obj = marshal.loads(raw)
    except (ValueError, EOFError, TypeError, AttributeError) as e:
        raise ValueError("A Lambda function's bytecode could not be read (it was saved by "
                         f"another Python version, or is damaged): {e}") from None
    if not isinstance(code_obj, types.CodeType):
        raise ValueError("A Lambda function's bytecode does not hold a code object.")
    cells = tuple(types.CellType(v) for v in closure) if closure else None
    return types.FunctionType(code_obj, globs, code_obj.co_name,
                              tuple(defaults) if defaults else None, cells)


def _globals_for(module: str | None) -> dict:
    # The package itself, as the function's code may name it: it is always imported before
    # any of its submodules, so it is read from sys.modules rather than imported from here.
    globs = {"__builtins__": builtins, "gpunet": sys.modules["gpunet"], "ops": ops, "np": np}
    if module and module in sys.modules:
        globs.update(sys.modules[module].__dict__)
    globs.update(registry._CUSTOM)
    return globs


def _own_name(fn: Any) -> tuple[str, str] | None:
    """``(public name, module)`` of a gpunet op or activation (found by identity)."""
    for name in ops.__all__:
        if getattr(ops, name, None) is fn:
            return name, "gpunet.ops"
    for name, obj in registry._REGISTRY.get("activation", {}).items():
        if obj is fn:
            return name, "gpunet.activations"
    return None


def fn_to_config(fn: Any) -> tuple[Any, str, str | None]:
    """``(value, type, module)`` for the config: ``"function"`` by name, ``"lambda"``
    bytecode, or ``"raw"`` (a shape, for ``output_shape``)."""
    if callable(fn):
        own = _own_name(fn)
        if own is not None:  # saved by its public name: loads in safe mode
            return own[0], "function", own[1]
        if is_named(fn) or not isinstance(fn, types.FunctionType):
            return fn.__name__, "function", getattr(fn, "__module__", None)
        return func_dump(fn), "lambda", fn.__module__
    return (list(fn) if isinstance(fn, tuple) else fn), "raw", None


# -- loading ----------------------------------------------------------------------------------
def check_shape(value: Any, layer: str) -> Any:
    """``output_shape`` given as data: ints >= 0 and None, or (nested) lists of them.

    Returns:
        The shape as a tuple (a list of tuples for several outputs).

    Raises:
        ValueError: naming the layer and the value found.
    """
    def dim(v: Any) -> bool:
        return v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                             and v >= 0)

    def flat(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and all(dim(x) for x in v)

    nested = isinstance(value, (list, tuple)) and len(value) > 0 and all(
        flat(v) for v in value)
    if not (flat(value) or nested):
        raise ValueError(f"Lambda layer '{layer}': `output_shape` must be a tuple of ints "
                         "(>= 0) and None, a list of such tuples, or a function. Received: "
                         f"{value!r}.")
    if value and isinstance(value[0], (list, tuple)):
        return [tuple(s) for s in value]
    return tuple(value)


def _named_function(name: Any, module: Any, layer: str, what: str) -> Callable:
    if not isinstance(name, str) or not (module is None or isinstance(module, str)):
        raise ValueError(f"Lambda layer '{layer}': its `{what}` must be a function name (a "
                         f"string) with a module name or null. Received: {name!r} "
                         f"(module {module!r}).")
    custom = registry._CUSTOM.get(name)
    if custom is None and module:
        custom = registry._CUSTOM.get(f"{module}>{name}")
    if custom is not None:
        return custom
    if registry.safe_mode_enabled():
        fn = _gpunet_function(name, module)
        if fn is not None:
            return fn
        where = f"`{module}.{name}`" if module else f"`{name}`"
        raise refusal(layer, what, f"the function {where}",
                      "a config may name only custom objects, registered objects and "
                      "gpunet's own functions (gpunet.ops, activations); no module named by a "
                      "file is imported")
    if module:
        if module not in sys.modules:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
        fn = getattr(sys.modules.get(module), name, None)
        if callable(fn):
            return fn
    fn = _gpunet_function(name, module)
    if fn is not None:
        return fn
    raise ValueError(f"Lambda layer '{layer}': cannot find its {what} `{name}` (module "
                     f"{module!r}). Pass it in `custom_objects` (e.g. load_model(path, "
                     f"custom_objects={{'{name}': {name}}})).")


def fn_from_config(value: Any, kind: Any, module: Any, layer: str, what: str) -> Any:
    """The function (or shape) a ``Lambda`` config holds, through the allow-list above."""
    if value is None:
        return None
    if kind == "function":
        return _named_function(value, module, layer, what)
    if kind == "lambda":
        if registry.safe_mode_enabled():
            raise refusal(layer, what, "Python bytecode (a lambda or a nested function)",
                          "loading it would run arbitrary code from the file")
        return func_load(value, _globals_for(module if isinstance(module, str) else None))
    if kind == "raw":
        return check_shape(value, layer)
    raise ValueError(f"Lambda layer '{layer}': unknown `{what}` type {kind!r} in its config "
                     "(expected 'function', 'lambda' or 'raw').")


__all__ = ["check_shape", "fn_from_config", "fn_to_config", "func_dump", "func_load",
           "is_named", "refusal"]
