"""EinsumDense: a dense layer whose contraction is an einsum equation (Keras 3)."""

from __future__ import annotations

import re
from typing import Any

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


@register("layer")
class EinsumDense(Layer):
    """A layer that computes ``activation(einsum(equation, inputs, kernel) + bias)``.

    Weight shapes, names and the bias layout follow Keras 3.15: the kernel axes take their
    sizes from the input (contracted axes) or from ``output_shape`` (output axes); the bias
    covers the output axes from the first one named in ``bias_axes`` to the last, with size 1
    on the axes not named. A variance-scaling kernel initializer (``glorot_uniform`` by
    default) computes its fans from the kernel's input and output axes, as Keras 3.15 does.

    Args:
        equation: einsum equation of the form ``"ab,bc->ac"``, ``"...ab,bc->...ac"`` or
            ``"ab...,bc->ac..."``.
        output_shape: int or tuple, the output shape without the batch axis and the axes the
            ellipsis stands for; ``None`` entries are taken from the input.
        activation: activation name or function (default: none, i.e. linear).
        bias_axes: string of output-axis letters that get a bias (default ``None``: no bias).
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties.
        kernel_constraint, bias_constraint: projections after each update.
        lora_rank, lora_alpha, gptq_unpacked_column_size, quantization_config: Keras 3's
            LoRA and quantization options: only ``None`` is supported (other values raise).
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Input shape:
        As the input part of ``equation`` (the batch axis first).

    Output shape:
        ``(batch,) + output_shape`` (with the ellipsis axes where the equation puts them).

    Returns:
        The output tensor.

    Example:

    >>> layer = EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")
    >>> layer(np.zeros((2, 32, 128), "float32")).shape
    (2, 32, 64)
    """

    def __init__(self, equation: str, output_shape: Any, activation: Any = None,
                 bias_axes: str | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None,
                 lora_alpha: float | None = None, gptq_unpacked_column_size: int | None = None,
                 quantization_config: Any = None, activity_regularizer: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for arg, v in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                       ("gptq_unpacked_column_size", gptq_unpacked_column_size),
                       ("quantization_config", quantization_config)):
            if v is not None:
                raise NotImplementedError(f"EinsumDense: `{arg}` (LoRA / quantization) is not "
                                          f"supported by gpunet; expected None, received "
                                          f"{arg}={v!r}.")
        if not isinstance(equation, str):
            raise TypeError(f"EinsumDense: `equation` must be a string. Received: "
                            f"equation={equation!r}")
        _split(equation)  # an invalid equation fails here, not at build time
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(f"EinsumDense: `bias_axes` must be a string of output-axis letters "
                            f"or None. Received: bias_axes={bias_axes!r}")
        self.equation = equation
        self.partial_output_shape = ((output_shape,) if isinstance(output_shape, int)
                                     else tuple(output_shape))
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        kernel_shape, bias_shape, _, in_axes, out_axes = analyze_einsum_string(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        for what, shape in (("kernel", kernel_shape), ("bias", bias_shape or [])):
            if any(s is None for s in shape):
                raise ValueError(f"Layer '{self.name}' (EinsumDense): the {what} shape "
                                 f"{shape_str(tuple(shape))} has unknown sizes; give them in "
                                 f"`output_shape` or the input shape (received input shape "
                                 f"{shape_str(input_shape)}).")
        self.input_spec = InputSpec(ndim=len(input_shape))
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            init = type(init).from_config({**init.get_config(), "input_axes": in_axes,
                                           "output_axes": out_axes})
        self.kernel = self.add_weight("kernel", tuple(kernel_shape), init,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight("bias", tuple(bias_shape), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        x = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return x if self.activation is activations.linear else self.activation(x)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        # as Keras 3.15: a None in ``output_shape`` stays None (Keras's symbolic output too)
        return tuple(analyze_einsum_string(self.equation, self.bias_axes, tuple(input_shape),
                                           self.partial_output_shape)[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "output_shape": list(self.partial_output_shape),
                "equation": self.equation,
                "activation": activations.serialize(self.activation),
                "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "quantization_config": None}


def _split(equation: str) -> tuple:
    """``(input_spec, weight_spec, output_spec, left_elided)`` of a Keras EinsumDense equation."""
    s = re.sub(r"\.\.\.", "0", equation)
    for pattern, left in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
                          ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
                          ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False)):
        m = re.match(pattern, s)
        if m:
            return m.group(1), m.group(2), m.group(3), left
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form "
                     "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def analyze_einsum_string(equation: str, bias_axes: str | None, input_shape: tuple,
                          output_shape: Any) -> tuple:
    """Keras 3.15's shape analysis of an EinsumDense equation.

    Returns:
        ``(kernel_shape, bias_shape or None, full_output_shape, input_axes, output_axes)``,
        the last two the kernel axes that count as fan-in and fan-out.
    """
    input_spec, weight_spec, output_spec, left_elided = _split(equation)
    elided = len(input_shape) - len(input_spec)
    output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output_shape.insert(0, input_shape[0])
    if elided > 0 and left_elided:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif elided > 0:
        for i in range(len(input_shape) - elided, len(input_shape)):
            output_shape.append(input_shape[i])
    if left_elided:
        input_dim_map = {d: (i + elided) - len(input_shape) for i, d in enumerate(input_spec)}
        output_dim_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        input_dim_map = {d: i for i, d in enumerate(input_spec)}
        output_dim_map = {d: i for i, d in enumerate(output_spec)}
    for d in input_spec:
        in_size = input_shape[input_dim_map[d]]
        if d in output_dim_map:
            out_size = output_shape[output_dim_map[d]]
            if out_size is not None and out_size != in_size:
                raise ValueError(f"Input shape and output shape do not match at shared "
                                 f"dimension '{d}'. Input shape is {in_size}, and output "
                                 f"shape is {out_size}.")
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ValueError(f"Dimension '{d}' was specified in the output '{output_spec}' but "
                             f"has no corresponding dim in the input spec '{input_spec}' or "
                             f"weight spec '{weight_spec}'")
    weight_shape, input_axes, output_axes = [], [], []
    for i, d in enumerate(weight_spec):
        if d in output_dim_map:
            weight_shape.append(output_shape[output_dim_map[d]])
            output_axes.append(i)
        elif d in input_dim_map:
            weight_shape.append(input_shape[input_dim_map[d]])
            input_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{d}' did not have a match in either the input "
                             f"spec '{input_spec}' or the output spec '{output_spec}'. For "
                             "this layer, the weight must be fully specified.")
    bias_shape = None
    if bias_axes is not None:
        n_left = elided if left_elided else 0
        idx_map = {c: output_shape[i + n_left] for i, c in enumerate(output_spec)}
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(f"Bias dimension '{c}' was requested, but is not part of the "
                                 f"output spec '{output_spec}'")
        first = min(output_spec.find(c) for c in bias_axes)
        bias_shape = [idx_map[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left_elided:
            bias_shape.extend([1] * max(elided, 0))
    return weight_shape, bias_shape, output_shape, input_axes, output_axes
