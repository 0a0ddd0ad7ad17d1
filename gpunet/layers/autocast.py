"""Mixed precision of layers: the dtype-policy attributes of ``Layer`` (``dtype_policy``,
``dtype``, ``compute_dtype``, ``variable_dtype``, ``input_dtype``, ``autocast``) and what
``Layer.__call__`` does under a mixed policy (Keras 3's input conversion and AutocastScope).

A layer whose policy computes in another dtype than its variables' (``"mixed_float16"``,
``"mixed_bfloat16"``) runs ``call`` with:

- its floating inputs (positional and keyword, in lists, tuples and dicts) cast to the compute
  dtype, unless the layer has ``autocast=False``;
- its floating variables, and those of the sublayers that compute in the same dtype, read as
  tensors cast to the compute dtype: for the duration of ``call`` the attributes that hold
  them hold the cast tensors, so gradients flow through the cast back to the float32
  variables (as reading a variable under Keras's ``AutocastScope`` does). Variables created
  with ``autocast=False`` (``add_weight`` or ``Variable``) stay as they are;
- floating outputs in the compute dtype.

Layers that Keras computes in float32 internally (``BatchNormalization``,
``LayerNormalization``, ``GroupNormalization``, ``Embedding``: class attribute
``_float32_internal = True``) get their inputs in float32 (after the usual cast to the compute
dtype, as Keras casts them twice), read their float32 variables as they are, and return the
compute dtype.
"""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.autograd.variable import Variable
from gpunet.backend import backend_of
from gpunet.mixed_precision.policy import DTypePolicy
from gpunet.mixed_precision.policy import get as get_policy
from gpunet.mixed_precision.policy import serialize as serialize_policy


# -- the dtype-policy attributes of Layer (assigned in its class body) -------------------------
def _get_policy(self: Any) -> DTypePolicy:
    return self._dtype_policy


def _set_policy(self: Any, value: Any) -> None:
    policy = get_policy(value)
    d = self.__dict__
    d["_dtype_policy"] = policy
    d["_compute_dtype"] = policy.compute_dtype
    d["_variable_dtype"] = policy.variable_dtype
    d["_autocast_scope"] = policy.compute_dtype if policy.is_mixed else None


def _set_autocast(self: Any, value: bool) -> None:
    self.__dict__["_autocast"] = bool(value)


DTYPE_POLICY = property(_get_policy, _set_policy, doc="The layer's ``DTypePolicy``; set it "
                        "with a name, a policy or a policy config.")
DTYPE = property(lambda self: self._variable_dtype, _set_policy,
                 doc="The dtype of the layer's variables (``variable_dtype``, as in Keras 3).")
COMPUTE_DTYPE = property(lambda self: self._compute_dtype,
                         doc="The dtype of the layer's computations and outputs.")
VARIABLE_DTYPE = property(lambda self: self._variable_dtype,
                          doc="The dtype of the layer's variables.")
INPUT_DTYPE = property(lambda self: self._compute_dtype,
                       doc="The dtype floating inputs are cast to (the compute dtype).")
AUTOCAST = property(lambda self: self.__dict__.get("_autocast", True), _set_autocast,
                    doc="Whether a mixed-policy layer casts its floating inputs to its compute "
                        "dtype.")


def dtype_config(layer: Any) -> Any:
    """``get_config``'s ``dtype``: the name of a single-dtype policy; a mixed policy as Keras 3
    serializes it (``{"module": "keras", "class_name": "DTypePolicy", ...}``)."""
    policy = layer._dtype_policy
    return serialize_policy(policy) if policy.is_mixed else policy.name


def is_float(dtype: Any) -> bool:
    """Whether ``dtype`` is a floating dtype (bfloat16 from ``ml_dtypes`` included)."""
    return dtype.kind == "f" or dtype.name == "bfloat16"


def resolve(name: str, b: Any) -> tuple:
    """``(io, compute)``: the array dtype of the policy's compute dtype ``name`` on backend
    ``b`` (what inputs, variables and outputs are rounded to), and the dtype the kernels run
    in. They are the same, except for ``"bfloat16"`` on NumPy: ``ml_dtypes.bfloat16`` has no
    native arithmetic (its matmul returns float32), so the layer rounds its inputs, variables
    and outputs to bfloat16 and computes in float32 between them, as XLA does on CPUs."""
    if name != "bfloat16":
        return name, name
    from gpunet.mixed_precision.bfloat16 import bfloat16_dtype

    return bfloat16_dtype(b), "float32"


def cast_tensor(x: Tensor, dtype: Any) -> Tensor:
    """``x`` in ``dtype``: a plain copy for data, a differentiable cast inside a graph."""
    if x.creator is None and not x.requires_grad:
        return Tensor(x.data.astype(dtype))
    return ops.cast(x, dtype)


def autocast_inputs(obj: Any, io: Any, compute: Any) -> Any:
    """``obj``'s floating tensors rounded to ``io`` and then in ``compute``."""
    obj = cast_inputs(obj, io)
    return obj if compute is io else cast_inputs(obj, compute)


def cast_inputs(obj: Any, dtype: Any) -> Any:
    """``obj`` (a tensor, array, or list/tuple/dict of them) with its floating tensors in
    ``dtype``; everything else as it is."""
    if isinstance(obj, Tensor):
        d = obj.data.dtype
        if d != dtype and is_float(d):
            mask = getattr(obj, "_keras_mask", None)
            obj = cast_tensor(obj, dtype)
            if mask is not None:
                obj._keras_mask = mask
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(cast_inputs(x, dtype) for x in obj)
    if isinstance(obj, dict):
        return {k: cast_inputs(v, dtype) for k, v in obj.items()}
    dt = getattr(obj, "dtype", None)
    if dt is not None and hasattr(obj, "shape") and dt != dtype and is_float(dt):
        return Tensor(backend_of(obj).asarray(obj).astype(dtype))
    return obj


def _cast_var(v: Variable, dtype: Any, cache: dict) -> Any:
    out = cache.get(id(v))
    if out is None:
        io, compute = dtype
        out = ops.cast(v, io)
        if compute is not io:
            out = ops.cast(out, compute)
        cache[id(v)] = out
    return out


def _castable(x: Any, dtype: Any) -> bool:
    return (x.__class__ is Variable and x._autocast and x.data.dtype != dtype
            and is_float(x.data.dtype))


def swap_variables(layer: Any, dtypes: tuple, compute: str) -> list:
    """Replaces, in ``layer`` and its sublayers computing in ``compute`` (a policy's compute
    dtype), every attribute holding a floating variable (or a list/tuple of them) by its cast
    to ``dtypes`` (``resolve``'s ``(io, compute)``: rounded to ``io``, then in ``compute``).

    Returns:
        The ``(dict, key, original)`` entries that ``restore`` puts back.
    """
    swapped: list = []
    cache: dict = {}
    dtype = dtypes[0]
    stack = [layer]
    seen = {id(layer)}
    while stack:
        lay = stack.pop()
        d = lay.__dict__
        if lay is not layer and (d.get("_compute_dtype") != compute or type(
                lay)._float32_internal):
            continue  # another policy, or a layer computing in float32: its own __call__
        for k, v in list(d.items()):
            if v.__class__ is Variable:
                if _castable(v, dtype):
                    swapped.append((d, k, v))
                    d[k] = _cast_var(v, dtypes, cache)
            elif isinstance(v, (list, tuple)) and k != "_weights" and v and any(
                    _castable(x, dtype) for x in v):
                swapped.append((d, k, v))
                d[k] = (list if isinstance(v, list) else tuple)(
                    _cast_var(x, dtypes, cache) if _castable(x, dtype) else x for x in v)
        tracker = d.get("_tracker")
        if tracker is not None:
            for sub in tracker.layers:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    stack.append(sub)
    return swapped


def restore(swapped: list) -> None:
    """Puts back the variables ``swap_variables`` replaced."""
    for d, k, v in reversed(swapped):
        d[k] = v


def cast_outputs(out: Any, dtype: Any) -> Any:
    """Floating output tensors in ``dtype`` (masks kept)."""
    return cast_inputs(out, dtype)


def wrap_dunder_call(fn: Any) -> Any:
    """A layer's own ``__call__`` (attention, merging, Lambda) with a mixed policy's input and
    output casts around it; ``fn`` itself when the layer's policy is not mixed."""
    import functools

    @functools.wraps(fn)
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        scope = self._autocast_scope
        if scope is None:
            return fn(self, *args, **kwargs)
        if args and args[0].__class__ is not Tensor and _symbolic(args[0]):
            return fn(self, *args, **kwargs)
        io, compute = resolve(scope, self._backend())
        if self._autocast:
            args = autocast_inputs(args, io, compute)
            kwargs = autocast_inputs(kwargs, io, compute)
        if type(self)._float32_internal:
            args = cast_inputs(args, "float32")
        return cast_outputs(fn(self, *args, **kwargs), io)

    __call__._mixed_wrapped = True
    return __call__


def wrap_call(fn: Any) -> Any:
    """``call`` of a layer with its own ``__call__``: under a mixed policy, run with the
    layer's variables read in the compute dtype (``swap_variables``)."""
    import functools

    @functools.wraps(fn)
    def call(self, *args: Any, **kwargs: Any) -> Any:
        scope = self._autocast_scope
        if scope is None or type(self)._float32_internal:
            return fn(self, *args, **kwargs)
        swapped = swap_variables(self, resolve(scope, self._backend()), self._compute_dtype)
        try:
            return fn(self, *args, **kwargs)
        finally:
            restore(swapped)

    call._mixed_wrapped = True
    return call


def _symbolic(x: Any) -> bool:
    from gpunet.layers.node import is_symbolic

    return is_symbolic(x)
