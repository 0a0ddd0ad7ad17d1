"""Support of ``Layer``: which arguments ``call`` takes, the outermost-call marker that clears
``add_loss`` losses, Keras 3's automatic config of a user's layer, building by running
``call``, and the ``build`` wrapper of subclasses."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor

_CALL_ARGS: dict[type, tuple[bool, bool]] = {}
_CALL_DEPTH = [0]
_NOT_TRACKED = frozenset({
    "_weights", "_activity_losses", "_added_losses", "_tracker", "_batch_input_shape",
    "input_shape_", "output_shape_", "_non_trainable_names", "_groups", "_state_groups",
    "_packed_key", "_compile_config", "_inbound_nodes", "_keras_history", "states",
})


def call_args(cls: type) -> tuple[bool, bool]:
    """Whether ``cls.call`` takes ``training`` and ``mask`` (looked up once per class).

    As in Keras 3, ``training`` is passed only to a ``call`` that names it; ``mask`` also to
    one that takes ``**kwargs``.
    """
    known = _CALL_ARGS.get(cls)
    if known is None:
        import inspect

        params = inspect.signature(cls.call).parameters
        known = _CALL_ARGS[cls] = ("training" in params, "mask" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values()))
    return known


def positional_as_keywords(layer: Any, args: tuple, kwargs: dict) -> dict:
    """``kwargs`` plus the extra positional arguments of a symbolic call, named after
    ``call``'s parameters: ``Endpoint()(targets, logits)`` on KerasTensors records ``logits``
    as the ``logits`` argument of the node (Keras 3 keeps every call argument)."""
    import inspect

    params = list(inspect.signature(type(layer).call).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): a Functional model "
                        "cannot record positional arguments after the first for a `call` "
                        "that takes *args; pass them by keyword.")
    named = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    if len(args) > len(named):
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): `call` takes "
                        f"{len(named) + 1} positional arguments; received {len(args) + 1}.")
    out = dict(kwargs)
    for p, value in zip(named, args):
        if p.name in out:
            raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): `call` got "
                            f"multiple values for argument '{p.name}'.")
        out[p.name] = value
    return out


def _accepts_mask(cls: type) -> bool:
    """Whether ``cls.call`` takes a ``mask`` argument (looked up once per class)."""
    return call_args(cls)[1]


def enter_call(layer: Any) -> bool:
    """Marks the start of a layer call; the outermost call clears the ``add_loss`` losses of
    the layer and its sublayers (Keras 3). Returns whether this call is the outermost."""
    entry = _CALL_DEPTH[0] == 0
    _CALL_DEPTH[0] += 1
    if entry:
        layer._clear_losses()
    return entry


def exit_call(entry: bool) -> None:
    """Ends a call started by ``enter_call``."""
    _CALL_DEPTH[0] = 0 if entry else max(_CALL_DEPTH[0] - 1, 0)


def user_level_call(layer: Any) -> bool:
    """Whether ``layer`` was called by the user: at the top level, by a model, or inside a
    user's layer, not inside the code of one of gpunet's own layers (whose sublayers' inputs
    are gpunet's business). Looks up the nearest calling frame of another layer's method."""
    import sys

    from gpunet.layers.layer import Layer

    frame = sys._getframe(2)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Layer) and owner is not layer:
            return is_model(owner) or not type(owner).__module__.startswith("gpunet.")
        frame = frame.f_back
    return True


def call_checked(layer: Any, inputs: Tensor, training: bool | None) -> Any:
    """``Layer.__call__``'s work for a built layer given a Tensor whose spec, shape and dtype
    passed before, on the weights' device, in the compute dtype, without a mask or other
    arguments, outside a mixed-precision policy: the same steps, without the checks."""
    cls = type(layer)
    entry = enter_call(layer)
    try:
        layer._check_input(inputs)
        out = layer.call(inputs, training=training) if call_args(cls)[0] else layer.call(inputs)
    finally:
        exit_call(entry)
    if layer.output_shape_ is None and isinstance(out, Tensor):
        layer.output_shape_ = tuple(out.shape)
    if layer.activity_regularizer is not None:  # the penalty of the last call only
        layer._activity_losses = [layer.activity_regularizer(out) / out.shape[0]]
    if not getattr(cls.compute_mask, "_default_mask", False):
        attach_masks(out, layer.compute_mask(inputs, None))
    return out


def attach_masks(out: Any, out_mask: Any) -> None:
    """Sets ``_keras_mask`` on a call's output: on the Tensor, or, for a layer returning a list
    or tuple of Tensors (``ops.split`` in the keras.io masking guide's ``TemporalSplit``), on
    each output from the matching entry of ``compute_mask``'s list, as Keras 3 does."""
    if isinstance(out, Tensor):
        out._keras_mask = out_mask
    elif isinstance(out, (list, tuple)) and isinstance(out_mask, (list, tuple)):
        for t, m in zip(out, out_mask):
            if isinstance(t, Tensor) and m is not None:
                t._keras_mask = m


_PLAIN = (str, int, float, bool, type(None))
_INIT_SIGS: dict[type, Any] = {}


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN)


def auto_config(cls: type, args: tuple, kwargs: dict) -> dict | None:
    """The constructor arguments of a user's layer as its config (defaults included), or None
    when they cannot be stored as plain values (Keras 3's automatic ``get_config``)."""
    import inspect

    sig = _INIT_SIGS.get(cls)
    if sig is None:
        sig = _INIT_SIGS[cls] = inspect.signature(cls.__init__)
    try:
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    out: dict = {}
    for i, (k, v) in enumerate(bound.arguments.items()):
        p = sig.parameters[k]
        if i == 0:
            continue
        if p.kind is p.VAR_POSITIONAL:
            if v:
                return None
        elif p.kind is p.VAR_KEYWORD:
            out.update(v)
        elif p.kind is p.POSITIONAL_ONLY:
            return None
        else:
            out[k] = v
    out.pop("name", None)
    if not _plain(out):
        return None
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def is_model(layer: Any) -> bool:
    """Whether ``layer`` is a model (found without importing ``gpunet.models``)."""
    return any(c.__name__ == "Model" and c.__module__ == "gpunet.models.model"
               for c in type(layer).__mro__)


def build_by_run(layer: Any, input_shape: Any) -> None:
    """Builds ``layer``'s sublayers by calling it once on zeros of ``input_shape`` (a batch
    of one where the batch axis is None); other unknown axes leave the sublayers to build on
    the first real call."""
    def zeros(shape):
        if isinstance(shape, dict):
            return {k: zeros(v) for k, v in shape.items()}
        if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple, dict)):
            return [zeros(s) for s in shape]
        dims = tuple(shape)
        if any(d is None for d in dims[1:]):
            raise _UnknownShape
        return Tensor(b.xp.zeros((1 if not dims or dims[0] is None else dims[0],) + dims[1:],
                                 dtype=layer.dtype))

    b = layer._backend()
    try:
        x = zeros(input_shape)
    except _UnknownShape:
        return
    object.__setattr__(layer, "_building", True)
    try:
        with no_grad():
            layer(x)
    finally:
        object.__setattr__(layer, "_building", False)
    layer.input_shape_ = input_shape


class _UnknownShape(Exception):
    pass


def _wrap_build(build: Any, mark_built: bool) -> Any:
    """``build`` that records the input shape (for ``build_config``) and, for a user's layer,
    sets ``built`` afterwards, as Keras 3 does."""
    import functools

    @functools.wraps(build)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        out = build(self, *args, **kwargs)
        if len(args) == 1 and not kwargs and self.__dict__.get("input_shape_") is None:
            shape = args[0]
            self.input_shape_ = tuple(shape) if isinstance(shape, list) and not (
                shape and isinstance(shape[0], (list, tuple))) else shape
        if mark_built:
            self.built = True
        return out

    wrapper._wrapped_build = True
    return wrapper


def _input_shape(inputs: Any) -> Any:
    """The build shape of ``inputs`` (batch axis None); lists and dicts of tensors map."""
    if isinstance(inputs, (list, tuple)):
        return [_input_shape(x) for x in inputs]
    if isinstance(inputs, dict):
        return {k: _input_shape(v) for k, v in inputs.items()}
    shape = getattr(inputs, "shape", ())
    return (None,) + tuple(shape[1:]) if len(shape) else tuple(shape)
