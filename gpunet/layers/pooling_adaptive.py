"""Adaptive pooling layers: AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D pool
their input to a fixed spatial ``output_size`` whatever the input's spatial size (the bins of
``gpunet.ops.adaptive_average_pool``: bin ``i`` of an axis of length ``n`` pooled to ``m``
covers ``[floor(i n / m), ceil((i + 1) n / m))``, as in Keras 3 and PyTorch)."""

from __future__ import annotations

import numbers
from typing import Any

from gpunet import ops
from gpunet.backend import image_data_format
from gpunet.layers.convolutional import check_build_shape, declare_input
from gpunet.layers.layer import Layer
from gpunet.registry import register

_AXES = {1: "integer", 2: "(height, width)", 3: "(depth, height, width)"}


class BaseAdaptivePooling(Layer):
    """Shared code of the adaptive pooling layers (see AdaptiveAveragePooling2D)."""

    rank = 2
    mode = "average"

    def __init__(self, output_size: int | tuple | list, data_format: str | None = None,
                 **kwargs: Any) -> None:
        name = type(self).__name__
        r = self.rank
        if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
            sizes = (output_size,) * r
        elif isinstance(output_size, (tuple, list)) and (len(output_size) == r or r == 1):
            if len(output_size) != r:  # Keras: ValueError for a 1-D tuple of another length
                raise ValueError(f"{name}: For 1D input, `output_size` tuple must have length "
                                 f"1. Received: {output_size}")
            sizes = tuple(output_size)
        else:
            what = "tuple of 1 integer" if r == 1 else f"{_AXES[r]} tuple"
            raise TypeError(f"{name}: `output_size` must be an integer or {what}. "
                            f"Received: {output_size} of type {type(output_size)}")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                   for s in sizes):
            raise ValueError(f"{name}: `output_size` must hold positive integers. "
                             f"Received: output_size={output_size}")
        super().__init__(**kwargs)
        self.output_size = tuple(int(s) for s in sizes)
        self.data_format = data_format or image_data_format()
        if self.data_format not in {"channels_first", "channels_last"}:
            raise ValueError(f"{name}: Invalid data_format: {self.data_format}. "
                             "Expected 'channels_first' or 'channels_last'.")
        declare_input(self)

    def build(self, input_shape):
        check_build_shape(self, input_shape)
        self.built = True

    def call(self, inputs, training=None):
        fn = ops.adaptive_average_pool if self.mode == "average" else ops.adaptive_max_pool
        return fn(inputs, self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "data_format": self.data_format}


_DOC = """

    Pools the input so that the output has the spatial size ``output_size`` whatever the
    input's spatial size; the windows (their sizes and strides) follow from the two sizes.

    Args:
        output_size: integer or {what}, the target output size; an
            integer is used for {every}.
        data_format: "channels_last" or "channels_first" (see the input shape).
            Defaults to ``gpunet.config.image_data_format()``, "channels_last" unless set.

    Input shape:
        {rank1}D tensor, channels_last:
        ``{last}``; channels_first:
        ``{first}``.

    Output shape:
        channels_last: ``{out_last}``;
        channels_first: ``{out_first}``.

    Example:

    >>> x = np.random.rand({ex_in}).astype("float32")
    >>> {name}(output_size={ex_size})(x).shape
    {ex_out}
    """
_DIMS = {1: ("length", ("steps",)), 2: ("height and width", ("height", "width")),
         3: ("depth, height and width", ("depth", "height", "width"))}
_EXAMPLES = {1: ("1, 64, 3", "32", "(1, 32, 3)"), 2: ("1, 64, 64, 3", "32", "(1, 32, 32, 3)"),
             3: ("1, 8, 9, 10, 3", "(4, 4, 5)", "(1, 4, 4, 5, 3)")}


def _doc(cls: type, title: str) -> type:
    every, axes = _DIMS[cls.rank]
    spatial = ", ".join(axes)
    out = ", ".join(f"output_{a}" for a in axes)
    ex_in, ex_size, ex_out = _EXAMPLES[cls.rank]
    cls.__doc__ = title + _DOC.format(
        what="tuple of 1 integer" if cls.rank == 1 else f"tuple of {cls.rank} integers",
        every=every, last=f"(batch, {spatial}, channels)", first=f"(batch, channels, {spatial})",
        rank1=cls.rank + 2, out_last=f"(batch, {out}, channels)",
        out_first=f"(batch, channels, {out})", name=cls.__name__, ex_in=ex_in, ex_size=ex_size,
        ex_out=ex_out)
    return cls


@register("layer")
class AdaptiveAveragePooling1D(BaseAdaptivePooling):
    rank, mode = 1, "average"


@register("layer")
class AdaptiveAveragePooling2D(BaseAdaptivePooling):
    rank, mode = 2, "average"


@register("layer")
class AdaptiveAveragePooling3D(BaseAdaptivePooling):
    rank, mode = 3, "average"


@register("layer")
class AdaptiveMaxPooling1D(BaseAdaptivePooling):
    rank, mode = 1, "max"


@register("layer")
class AdaptiveMaxPooling2D(BaseAdaptivePooling):
    rank, mode = 2, "max"


@register("layer")
class AdaptiveMaxPooling3D(BaseAdaptivePooling):
    rank, mode = 3, "max"


_doc(AdaptiveAveragePooling1D, "Adaptive average pooling of temporal (1-D) data.")
_doc(AdaptiveAveragePooling2D, "Adaptive average pooling of spatial (2-D) data.")
_doc(AdaptiveAveragePooling3D, "Adaptive average pooling of volumetric (3-D) data.")
_doc(AdaptiveMaxPooling1D, "Adaptive max pooling of temporal (1-D) data.")
_doc(AdaptiveMaxPooling2D, "Adaptive max pooling of spatial (2-D) data.")
_doc(AdaptiveMaxPooling3D, "Adaptive max pooling of volumetric (3-D) data.")
