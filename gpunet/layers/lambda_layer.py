"""``Lambda``: wraps a function as a layer; ``OpLambda``: a ``gpunet.ops`` call in a graph.

``Lambda(function)`` calls ``function(inputs, **arguments)`` on gpunet Tensors, so functions
written with ``gpunet.ops`` (or Tensor operators) are differentiable. Its config follows
Keras: a named module-level function is saved by module and name, any other Python function
(a ``lambda``, a nested function) as marshalled bytecode in base64 (Keras 2's ``"lambda"``
type). Loading is an allow-list (``lambda_functions.py``): in safe mode, the default of
every loader and of ``from_config`` as in Keras 3, a config may name only custom/registered
objects and gpunet's own functions; bytecode and other modules' functions need
``safe_mode=False``.

``OpLambda`` is what ``x * 2``, ``x[:, 0]`` or ``gpunet.ops.mean(x)`` record when ``x`` is a
``KerasTensor`` (Keras 3's automatic op layers, Keras 2's ``TFOpLambda``): it names the
``gpunet.ops`` function and keeps the other arguments in its config. Keras 2 files with
``TFOpLambda`` / ``SlicingOpLambda`` layers for the common ``tf.math`` / ``tf.__operators__``
functions load onto the same class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.backend import to_numpy
from gpunet.layers.lambda_functions import (
    check_shape,
    fn_from_config,
    fn_to_config,
    func_dump,
    func_load,
)
from gpunet.layers.layer import Layer, unique_name
from gpunet.layers.node import is_symbolic, symbolic_call
from gpunet.layers.op_dtypes import array_dtypes, to_keras_dtypes
from gpunet.registry import in_safe_mode, register, safe_mode_scope


# -- calling on lists ---------------------------------------------------------------------------
def _as_tensors(layer: Layer, inputs: Any) -> Any:
    b = layer._backend()
    if isinstance(inputs, (list, tuple)):
        return [_as_tensors(layer, x) for x in inputs]
    if isinstance(inputs, dict):
        return {k: _as_tensors(layer, v) for k, v in inputs.items()}
    return inputs if isinstance(inputs, Tensor) else Tensor(b.asarray(inputs))


def _shapes_of(out: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return [tuple(o.shape) for o in out]
    return tuple(out.shape)


def _zeros(shape: Any, fill: int, dtype: str) -> Any:
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [_zeros(s, fill, dtype) for s in shape]
    from gpunet.backend import get_backend

    return Tensor(get_backend().xp.zeros(tuple(fill if s is None else s for s in shape), dtype))


def infer_output_shape(layer: Layer, input_shape: Any) -> Any:
    """Runs ``layer`` on zeros with the unknown sizes set to 2, then 3; sizes that change are
    unknown (``None``) in the result."""
    runs = []
    for fill in (2, 3):
        with no_grad(), np.errstate(all="ignore"):
            runs.append(_shapes_of(layer(_zeros(input_shape, fill, layer.dtype),
                                         training=False)))

    def merge(a, b):
        return tuple(x if x == y else None for x, y in zip(a, b))

    if isinstance(runs[0], list):
        return [merge(a, b) for a, b in zip(*runs)]
    return merge(*runs)


class _ListCallMixin:
    """``__call__`` taking a Tensor, an array, or a list/dict of them."""

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if inputs.__class__ is not Tensor and is_symbolic(inputs):
            return symbolic_call(self, inputs, training, kwargs)
        if not isinstance(inputs, (list, tuple, dict)):
            return Layer.__call__(self, inputs, training=training, **kwargs)
        xs = _as_tensors(self, inputs)
        if not self.built:
            self.build(_input_shapes(xs))
            self.built = True
            self.input_shape_ = _input_shapes(xs)
        kwargs.pop("mask", None)
        return self.call(xs, training=training, **kwargs)


def _input_shapes(xs: Any) -> Any:
    if isinstance(xs, dict):
        return {k: (None,) + tuple(v.shape[1:]) for k, v in xs.items()}
    return [(None,) + tuple(x.shape[1:]) for x in xs]


# -- Lambda -------------------------------------------------------------------------------------
@register("layer")
class Lambda(_ListCallMixin, Layer):
    """Wraps an arbitrary function as a layer.

    The function receives gpunet Tensors (a list of them when the layer is called on a
    list) and returns a Tensor; written with ``gpunet.ops`` or Tensor operators, it is
    differentiable. Prefer a subclass of ``Layer`` for anything with weights.

    Args:
        function: ``fn(inputs, **arguments)``; may also take ``training`` and ``mask``.
        output_shape: the output shape without the batch axis (a tuple), or a function of
            the input shape; default: found by running ``function`` on zeros.
        mask: a mask to attach to the output, or ``fn(inputs, mask)`` computing it.
        arguments: extra keyword arguments for ``function`` (JSON-serializable to save).
        **kwargs: ``name``, ``trainable``, ``dtype``, ``input_shape``.

    Input shape:
        Anything ``function`` accepts.

    Output shape:
        ``output_shape`` when given, else what ``function`` returns.

    Example:

    >>> x = Input((4,))
    >>> y = Lambda(lambda t: gpunet.ops.square(t) + 1.0)(x)
    >>> model = Model(x, y)

    Saving: ``gpunet.ops`` functions and activations are stored by their public name and
    load anywhere. Another named module-level function is stored by module and name; in safe
    mode (the default) it loads only from ``custom_objects`` or
    ``register_serializable``, never by importing the module the file names
    (``safe_mode=False`` does that, for trusted files). A lambda or nested function is
    stored as bytecode, which loads only on the same Python version and with
    ``safe_mode=False``.
    """

    _keeps_input_dtype = True

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda layer '{self.name}': `function` must be callable. "
                            f"Received: {function!r}")
        if output_shape is not None and not callable(output_shape):
            output_shape = check_shape(output_shape, self.name)
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_training = "training" in params
        self._fn_mask = "mask" in params

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        kwargs = dict(self.arguments)
        if self._fn_training:
            kwargs["training"] = training
        if self._fn_mask:
            kwargs["mask"] = mask
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        spec = self._output_shape
        if spec is None:
            return infer_output_shape(self, input_shape)
        if callable(spec):
            return spec(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) and input_shape and \
            isinstance(input_shape[0], (list, tuple)) else input_shape
        batch = first[0] if first else None
        if isinstance(spec, list):  # one shape per output
            return [(batch,) + tuple(s) for s in spec]
        return (batch,) + tuple(spec)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self) -> dict:
        cfg = super().get_config()
        fn, fn_type, module = fn_to_config(self.function)
        cfg.update({"function": fn, "function_type": fn_type, "module": module})
        if self._output_shape is None:
            cfg.update({"output_shape": None, "output_shape_type": "raw",
                        "output_shape_module": None})
        else:
            out, out_type, out_module = fn_to_config(self._output_shape)
            cfg.update({"output_shape": out, "output_shape_type": out_type,
                        "output_shape_module": out_module})
        if callable(self.mask):  # Keras 2's mask / mask_type / mask_module keys
            mask, mask_type, mask_module = fn_to_config(self.mask)
            cfg.update({"mask": mask, "mask_type": mask_type, "mask_module": mask_module})
        cfg["arguments"] = dict(self.arguments)
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Lambda:
        """Rebuilds the layer; its functions resolve through the allow-list of
        ``lambda_functions.py``: in safe mode (the default, also outside any loader) only
        custom/registered objects and gpunet's functions; bytecode needs ``safe_mode=False``."""
        config = dict(config)
        name = str(config.get("name", "lambda"))
        fn = fn_from_config(config.pop("function"), config.pop("function_type", "function"),
                            config.pop("module", None), name, "function")
        out = fn_from_config(config.pop("output_shape", None),
                             config.pop("output_shape_type", "raw"),
                             config.pop("output_shape_module", None), name, "output_shape")
        mask = config.pop("mask", None)
        mask_type = config.pop("mask_type", "function")
        mask_module = config.pop("mask_module", None)
        if mask is not None and mask_type == "raw":
            raise ValueError(f"Lambda layer '{name}': a constant `mask` in a config is not "
                             f"supported (received {mask!r}); use a mask function.")
        mask = fn_from_config(mask, mask_type, mask_module, name, "mask")
        if not isinstance(config.get("arguments") or {}, dict):
            raise ValueError(f"Lambda layer '{name}': `arguments` must be a dict of keyword "
                             f"arguments. Received: {config['arguments']!r}.")
        return super().from_config({**config, "function": fn, "output_shape": out,
                                    "mask": mask})

    def clone(self) -> Lambda:
        """A new Lambda sharing this one's functions (``clone_model``): nothing is rebuilt
        from a config, so a lambda or closure clones without bytecode."""
        import copy

        return Lambda(self.function, self._output_shape, self.mask,
                      copy.deepcopy(self.arguments), name=self.name,
                      trainable=self.trainable, dtype=self.dtype)


# -- op layers ----------------------------------------------------------------------------------
_TENSOR = "__op_input__"


def _encode(value: Any, slots: list) -> Any:
    """A JSON-friendly template of an op argument; KerasTensors become numbered slots."""
    if getattr(value, "_is_keras_tensor", False):
        slots.append(value)
        return {"class_name": _TENSOR, "config": {"index": len(slots) - 1}}
    if isinstance(value, list):
        return [_encode(v, slots) for v in value]
    if isinstance(value, tuple):
        return {"class_name": "__op_tuple__", "config": {"value": [_encode(v, slots)
                                                                   for v in value]}}
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {
            "start": _encode(value.start, slots), "stop": _encode(value.stop, slots),
            "step": _encode(value.step, slots)}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = to_numpy(value)
        return {"class_name": "__ndarray__", "config": {"value": arr.tolist(),
                                                        "dtype": str(arr.dtype)}}
    if isinstance(value, dict):
        return {k: _encode(v, slots) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot record the argument {value!r} of a gpunet.ops call on "
                    "KerasTensors: only tensors, numbers, strings, None, slices, arrays and "
                    "lists/tuples of them can be saved. Wrap the computation in a Lambda layer.")


def _decode(value: Any, xs: list) -> Any:
    if isinstance(value, list):
        return [_decode(v, xs) for v in value]
    if isinstance(value, dict):
        kind = value.get("class_name")
        cfg = value.get("config", {})
        if kind == _TENSOR:
            return xs[cfg["index"]]
        if kind == "__op_tuple__":
            return tuple(_decode(v, xs) for v in cfg["value"])
        if kind == "__slice__":
            return slice(_decode(cfg["start"], xs), _decode(cfg["stop"], xs),
                         _decode(cfg["step"], xs))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind == "__ndarray__":
            return np.asarray(cfg["value"], dtype=cfg["dtype"])
        return {k: _decode(v, xs) for k, v in value.items()}
    return value


# Keras 2 TFOpLambda functions: tf name -> (gpunet op, tf names of the positional arguments
# after the first, {tf keyword: gpunet keyword})
_BINARY = ("y",)
_REDUCE = {"axis": "axis", "keepdims": "keepdims"}
TF_OPS: dict[str, tuple[str, tuple, dict]] = {
    "__operators__.add": ("add", _BINARY, {}), "math.add": ("add", _BINARY, {}),
    "math.subtract": ("subtract", _BINARY, {}), "math.multiply": ("multiply", _BINARY, {}),
    "math.truediv": ("divide", _BINARY, {}), "math.divide": ("divide", _BINARY, {}),
    "math.pow": ("power", _BINARY, {}), "math.maximum": ("maximum", _BINARY, {}),
    "math.minimum": ("minimum", _BINARY, {}), "linalg.matmul": ("matmul", ("b",), {}),
    "matmul": ("matmul", ("b",), {}), "math.negative": ("negative", (), {}),
    "math.square": ("square", (), {}), "math.sqrt": ("sqrt", (), {}),
    "math.exp": ("exp", (), {}), "math.log": ("log", (), {}), "math.abs": ("abs", (), {}),
    "math.tanh": ("tanh", (), {}), "math.sigmoid": ("sigmoid", (), {}),
    "nn.relu": ("relu", (), {}), "nn.softmax": ("softmax", (), {"axis": "axis"}),
    "math.softmax": ("softmax", (), {"axis": "axis"}),
    "math.reduce_mean": ("mean", (), _REDUCE), "math.reduce_sum": ("sum", (), _REDUCE),
    "math.reduce_max": ("max", (), _REDUCE), "math.reduce_min": ("min", (), _REDUCE),
    "reshape": ("reshape", ("shape",), {}), "transpose": ("transpose", (), {"perm": "axes"}),
    "compat.v1.transpose": ("transpose", (), {"perm": "axes"}),
    "expand_dims": ("expand_dims", ("axis",), {}), "squeeze": ("squeeze", (), {"axis": "axis"}),
    "compat.v1.squeeze": ("squeeze", (), {"axis": "axis"}),
    "concat": ("concatenate", (), {"axis": "axis"}), "stack": ("stack", (), {"axis": "axis"}),
    "__operators__.getitem": ("getitem", ("slice_spec",), {}),
}


def _tf_slice(spec: Any) -> Any:
    """Keras 2's ``slice_spec`` (dicts for slices, a list for a tuple) as an index."""
    if isinstance(spec, dict) and set(spec) <= {"start", "stop", "step"}:
        return slice(spec.get("start"), spec.get("stop"), spec.get("step"))
    if spec == "...":
        return Ellipsis
    if isinstance(spec, (list, tuple)):
        return tuple(_tf_slice(s) for s in spec)
    return spec


@register("layer", "TFOpLambda", "SlicingOpLambda")
class OpLambda(_ListCallMixin, Layer):
    """One ``gpunet.ops`` call in a Functional graph, recorded by an operator or op on
    ``KerasTensor`` s (Keras 3's automatic op layers; Keras 2's ``TFOpLambda``).

    You rarely build one yourself: ``x * 2``, ``1 - x``, ``x[:, 0]`` or
    ``gpunet.ops.mean(x, axis=1)`` on ``KerasTensor`` s create it.

    Args:
        function: the name of a ``gpunet.ops`` function (``"multiply"``), or the function.
            A Keras 2 ``TFOpLambda`` name (``"math.multiply"``) is mapped onto gpunet.
        arguments: ``{"args": [...], "kwargs": {...}}``, the call's arguments with the
            input tensors replaced by numbered slots (JSON-friendly).
        **kwargs: ``name``, ``trainable``, ``dtype``.

    Input shape:
        The tensor (or list of tensors) the op was called on.

    Output shape:
        The op's result.

    Example:

    >>> x = Input((3,))
    >>> y = gpunet.ops.mean(x * 2.0 + 1.0, axis=-1)   # records OpLambda layers
    >>> Model(x, y).predict(np.ones((1, 3)))           # -> [3.]
    """

    _keeps_input_dtype = True
    _infers_dtype = True  # its KerasTensor dtypes come from a trial run (``node.py``)

    def __init__(self, function: Any, arguments: dict | None = None, **kwargs: Any) -> None:
        if callable(function):
            function = function.__name__
        if not isinstance(function, str):
            raise ValueError(f"OpLambda '{kwargs.get('name', '?')}': `function` must be the name "
                             f"of a gpunet.ops function. Received: {function!r}.")
        self._tf_function = None
        namespaced = function.startswith("image.")  # gpunet.ops.image.<name>
        if ("." in function and not namespaced) or function.startswith("__"):  # Keras 2
            if function not in TF_OPS:
                raise ValueError(
                    f"The Keras 2 layer '{kwargs.get('name', function)}' calls the TensorFlow "
                    f"function `tf.{function}`, which gpunet cannot map onto a gpunet.ops "
                    f"function. Supported: {sorted('tf.' + k for k in TF_OPS)}. Rebuild the "
                    "model with a Lambda layer or a custom layer.")
            self._tf_function = function
        op_name = TF_OPS[function][0] if self._tf_function else function
        op = public_op(op_name if not namespaced else function)
        if op is None:
            raise ValueError(f"OpLambda '{kwargs.get('name', op_name)}': {op_name!r} is not a "
                             "public gpunet.ops function (only those can be named in a "
                             "config).")
        kwargs.setdefault("name", unique_name(op_name.replace(".", "_")))
        super().__init__(**kwargs)
        self.function = function
        self.op_name = op_name
        self._op = op
        self.arguments = arguments

    def call(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        kwargs.pop("mask", None)
        if self._tf_function is not None:
            return self._call_tf(inputs, kwargs)
        xs = inputs if isinstance(inputs, list) else [inputs]
        args = _decode(self.arguments.get("args", []), xs)
        kw = _decode(self.arguments.get("kwargs", {}), xs)
        # typed as Keras 3 types the op (int32 mean -> float32, argmax -> int32)
        return to_keras_dtypes(self._op(*args, **kw), array_dtypes([args, kw]))

    def _call_tf(self, first: Any, kwargs: dict) -> Any:
        _, positional, keywords = TF_OPS[self._tf_function]
        kwargs.pop("name", None)
        args = [first]
        for p in positional:
            if p not in kwargs:
                raise ValueError(f"Layer '{self.name}' (tf.{self._tf_function}): the argument "
                                 f"`{p}` is missing from its inbound node.")
            v = kwargs.pop(p)
            args.append(_tf_slice(v) if p == "slice_spec" else v)
        kw = {}
        for k, v in kwargs.items():
            if k not in keywords:
                raise ValueError(f"Layer '{self.name}' (tf.{self._tf_function}): gpunet does "
                                 f"not support its argument `{k}`={v!r}.")
            kw[keywords[k]] = tuple(v) if k == "perm" and v is not None else v
        return self._op(*args, **kw)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._tf_function is not None:
            raise NotImplementedError  # node arguments needed: the graph runs it on zeros
        return infer_output_shape(self, input_shape)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["function"] = self.function
        if self._tf_function is None:
            cfg["arguments"] = self.arguments
        return cfg


def public_op(name: str) -> Any:
    """The public ``gpunet.ops`` function ``name`` (``"image.<name>"``: of ``gpunet.ops.image``),
    or None."""
    from gpunet import ops

    space, short = (ops.image, name[6:]) if name.startswith("image.") else (ops, name)
    fn = getattr(space, short, None)
    return fn if short in space.__all__ and callable(fn) else None


def op_call(name: str, args: tuple, kwargs: dict) -> Any:
    """``gpunet.ops.<name>(*args, **kwargs)`` with KerasTensor arguments: records an
    ``OpLambda`` node and returns its output KerasTensor(s)."""
    slots: list = []
    template = {"args": [_encode(a, slots) for a in args],
                "kwargs": {k: _encode(v, slots) for k, v in kwargs.items()}}
    layer = OpLambda(name, arguments=template)
    return layer(slots if len(slots) > 1 else slots[0])


__all__ = ["Lambda", "OpLambda", "TF_OPS", "func_dump", "func_load", "in_safe_mode",
           "op_call", "safe_mode_scope"]
