"""``Pipeline``: Keras 3's layer that applies a list of layers in order (a preprocessing or
augmentation chain that is a plain layer, not a model)."""

from __future__ import annotations

from typing import Any

from gpunet.deserialization import deserialize_layer
from gpunet.layers.layer import Layer
from gpunet.layers.layer_support import call_args, enter_call, exit_call
from gpunet.layers.node import is_symbolic
from gpunet.layers.serialization import serialize
from gpunet.registry import register


@register("layer")
class Pipeline(Layer):
    """Applies a series of layers to an input, one after the other.

    Unlike a ``Sequential`` model it is a plain layer: put it inside a model, or map it over
    a data pipeline. As in Keras 3, ``training`` defaults to True: called on its own (or from
    a model called directly) the random augmentations inside it are active; ``fit`` passes
    ``training=True``, ``predict`` and ``evaluate`` pass False. The mask each layer's output
    carries is handed to the next layer that takes one. As Keras's, it converts and casts
    nothing itself: the inputs (float64 arrays, strings for ``TextVectorization`` or
    ``StringLookup``) reach the first layer as they come, and each layer casts them by its
    own dtype policy.

    Args:
        layers: the list of layers, applied in order. Read back as ``pipeline.layers``; their
            weights are the pipeline's weights.
        name: the layer's name.

    Input shape:
        What the first layer takes.

    Output shape:
        What the last layer gives.

    Example:

    >>> images = np.random.randint(0, 256, size=(8, 32, 32, 3)).astype("uint8")
    >>> augment = Pipeline([Rescaling(1 / 255), RandomFlip("horizontal"),
    ...                     RandomRotation(0.1)])
    >>> augment(images).shape  # training=True by default: augmented
    (8, 32, 32, 3)
    """

    _config_has_dtype = False  # Keras's config is {"layers", "name"}

    def __init__(self, layers: list, name: str | None = None) -> None:
        super().__init__(name=name)
        self.__dict__["_autocast_scope"] = None  # no casts of its own under a mixed policy
        if not isinstance(layers, (list, tuple)) or not all(
                isinstance(la, Layer) for la in layers):
            bad = layers if not isinstance(layers, (list, tuple)) else next(
                la for la in layers if not isinstance(la, Layer))
            raise TypeError("Pipeline: `layers` must be a list of Layer instances. Received: "
                            f"{bad!r} (of type {type(bad).__name__}).")
        self.layers = list(layers)  # tracked: saved at <pipeline>/layers/<layer> as Keras does

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if is_symbolic(inputs):  # Functional API: a node, shapes from compute_output_shape
            return super().__call__(inputs, training=training, **kwargs)
        mask = kwargs.pop("mask", None)
        if kwargs:
            raise TypeError(f"Pipeline '{self.name}': unexpected call arguments "
                            f"{sorted(kwargs)}; it takes the inputs, `training` and `mask`.")
        entry = enter_call(self)
        try:
            self.built = True
            return self.call(inputs, training=training, mask=mask)
        finally:
            exit_call(entry)

    def build(self, input_shape: tuple) -> None:
        """Builds each layer for the shape the one before it gives."""
        shape = tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            if layer.input_shape_ is None:
                layer.input_shape_ = shape
            shape = tuple(layer.compute_output_shape(shape))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if training is None:  # Keras's Pipeline.call(training=True)
            training = True
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        outputs = inputs
        for layer in self.layers:
            kwargs = {}
            takes_training, takes_mask = call_args(type(layer))
            if takes_mask and mask is not None:
                kwargs["mask"] = mask
            if takes_training:
                kwargs["training"] = training
            outputs = layer(inputs, **kwargs)
            mask = getattr(outputs, "_keras_mask", None)
            inputs = outputs
        self.__dict__["_output_mask"] = mask
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask the last layer's output carried in the last call."""
        return self.__dict__.get("_output_mask")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def get_config(self) -> dict:
        return {"layers": [serialize(layer) for layer in self.layers], "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Pipeline:
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("`Pipeline` config must contain a `layers` key mapping to a "
                             "list of serialized layers. Received config with "
                             f"layers={layers}.")
        config = {**config}
        config["layers"] = [la if isinstance(la, Layer) else deserialize_layer(la)
                            for la in layers]
        return cls(**config)
