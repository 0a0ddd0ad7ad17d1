"""Identity: a placeholder layer that returns its input."""

from __future__ import annotations

from typing import Any

from gpunet.layers.layer import Layer
from gpunet.registry import register


@register("layer")
class Identity(Layer):
    """Identity layer: returns its ``inputs`` argument unchanged (masks pass through).

    Use it as a placeholder where no operation is to be performed, as in Keras 3.

    Args:
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Input shape:
        Any.

    Output shape:
        The same as the input.

    Returns:
        The input itself.

    Example:

    >>> Identity()(np.ones((2, 3), "float32")).shape
    (2, 3)
    """

    supports_masking = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = True  # no weights: built at construction, as Keras's _build_at_init

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
