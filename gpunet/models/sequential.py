"""``Sequential``: a plain stack of layers, each with one input and one output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.deserialization import deserialize_layer
from gpunet.layers.convolutional import Conv2D
from gpunet.layers.core import InputLayer
from gpunet.layers.fusion import conv_pool_call
from gpunet.layers.layer import Layer, enter_call, exit_call, shape_str, unique_name
from gpunet.layers.node import KerasTensor, Node, input_tensor, is_symbolic, symbolic_call
from gpunet.models.model import Model
from gpunet.registry import register


@register("layer")
class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an ``Input(...)`` first fixes the input shape).
        name: the model name (default ``sequential``, numbered).

    Example:

    >>> model = Sequential([Input((784,)), Dense(512, activation="relu"), Dense(10)])
    >>> model.add(Activation("softmax"))
    >>> model.compile(optimizer="adam", loss="categorical_crossentropy")
    """

    _auto_track = False  # its layers are listed, not tracked from attributes

    def __init__(self, layers: Sequence | None = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name or unique_name("sequential"), trainable=trainable, **kwargs)
        self._layers: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._graph_inputs: list | None = None
        self._graph_outputs: list | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        """The layers, without the InputLayer (as in Keras)."""
        return list(self._layers)

    def add(self, layer: Any) -> None:
        """Appends a layer (or an ``Input``) and builds the model when the input shape is known."""
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"Sequential model '{self.name}': an Input can only be the "
                                 "first layer.")
            self._input_layer = layer
            self._batch_input_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add() expects a Layer instance. Received: {layer!r} "
                            f"(of type {type(layer).__name__}).")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name '{layer.name}' is already the name of a layer in "
                             "this model.")
        if not self._layers and self._input_layer is None and layer._batch_input_shape:
            self._input_layer = InputLayer(batch_shape=layer._batch_input_shape,
                                           name=f"{layer.name}_input")
            self._batch_input_shape = layer._batch_input_shape
        self._layers.append(layer)
        self.built = False
        if self._batch_input_shape is not None:
            self.build(self._batch_input_shape)

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        self._packed_key = ()
        if rebuild and self._batch_input_shape is not None and self._layers:
            self.build(self._batch_input_shape)
        return layer

    def build(self, input_shape: Sequence | None = None) -> None:
        """Builds every layer for ``input_shape`` (batch axis included, may be None)."""
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError(f"Model '{self.name}' cannot be built without an input shape. "
                             "Start it with Input(shape) or call it on data.")
        shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=shape, name=unique_name("input_layer"))
        self._batch_input_shape = shape
        for layer in self._layers:
            layer_in = shape
            if not layer.built:
                layer.build(shape)
                layer.built = True
                layer.input_shape_ = shape
            shape = tuple(layer.compute_output_shape(shape))
            layer.input_shape_ = layer_in
            layer.output_shape_ = shape
        self.output_shape_ = shape
        self.built = True
        self._make_graph()

    def _make_graph(self) -> None:
        """Records the symbolic graph of the stack (``Input`` → each layer), so that
        ``model.inputs``, ``model.outputs`` and ``layer.output`` work as in Keras. Nodes from an
        earlier build of this model are removed from the layers first."""
        for layer, node in getattr(self, "_graph_nodes", []):
            nodes = layer.__dict__.get("_inbound_nodes") or []
            if node in nodes and node is nodes[-1]:
                nodes.pop()
        self._graph_nodes = []
        self._graph_inputs = self._graph_outputs = None
        if self._input_layer is None:
            return
        x = input_tensor(self._input_layer)
        self._graph_inputs = [x]
        try:
            for layer in self._layers:
                shape = layer.output_shape_
                if isinstance(shape, list):  # a layer with several outputs ends the chain
                    return
                out = KerasTensor(shape, layer.dtype, layer.name)
                node = Node(layer, x, {}, [out])
                self._graph_nodes.append((layer, node))
                x = out
        except (TypeError, ValueError):
            return
        self._graph_outputs = [x]

    @property
    def inputs(self) -> list:
        """The model's input KerasTensors (once it knows its input shape)."""
        if self._graph_inputs is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined inputs yet: "
                                 "give it an Input(shape) or build it first.")
        return list(self._graph_inputs)

    @property
    def outputs(self) -> list:
        """The model's output KerasTensors (once it knows its input shape)."""
        if self._graph_outputs is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet: "
                                 "give it an Input(shape) or build it first.")
        return list(self._graph_outputs)

    @property
    def input(self) -> KerasTensor:
        """The model's input KerasTensor."""
        return self.inputs[0]

    @property
    def output(self) -> KerasTensor:
        """The model's output KerasTensor."""
        return self.outputs[0]

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        layers = self._layers
        fused = False
        for i, layer in enumerate(layers):
            if fused:  # the layer ran inside the fused node before it
                fused = False
                continue
            if layer.__class__ is Conv2D and i + 1 < len(layers):
                # a Conv2D and the pool after it, run together where the result is the
                # same (gpunet.layers.fusion)
                y = conv_pool_call(layer, layers[i + 1], x)
                if y is not None:
                    x, fused = y, True
                    continue
            x = layer(x, training=training)
        return x

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Tensor:
        if inputs.__class__ is not Tensor and is_symbolic(inputs):
            return symbolic_call(self, inputs, training, kwargs)
        if not isinstance(inputs, Tensor):
            inputs = Tensor(self.backend.asarray(inputs))
        if not self.built:
            self.build((None,) + tuple(inputs.shape[1:]))
        exp = self._batch_input_shape
        seen = (exp, inputs.data.shape)
        if exp is None or seen == self.__dict__.get("_input_ok"):
            pass  # no fixed shape, or the same as a call that passed
        elif len(exp) != inputs.ndim or any(
                e is not None and e != s for e, s in zip(exp[1:], inputs.shape[1:])):
            first = self._layers[0].name if self._layers else self.name
            raise ValueError(
                f"Input 0 of layer '{first}' is incompatible with the layer: expected shape="
                f"{shape_str(exp)}, found shape={shape_str((None,) + tuple(inputs.shape[1:]))}"
            )
        else:
            self.__dict__["_input_ok"] = seen
        entry = enter_call(self)
        try:
            return self.call(inputs, training=training)
        finally:
            exit_call(entry)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        """The output shape of the stack for ``input_shape`` (batch axis included)."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def input_shape(self) -> tuple | None:
        return self._batch_input_shape

    @property
    def output_shape(self) -> tuple | None:
        return self.output_shape_

    def get_config(self) -> dict:
        from gpunet.registry import serialize

        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        for layer in self._layers:
            layers.append(serialize(layer))
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        layer_cfgs = config["layers"] if isinstance(config, dict) else config
        model = cls(name=config.get("name") if isinstance(config, dict) else None)
        for lc in layer_cfgs:
            model.add(deserialize_layer(lc, custom_objects))
        build = config.get("build_input_shape") if isinstance(config, dict) else None
        if not model.built and build is not None:
            model.build(tuple(build))
        return model
