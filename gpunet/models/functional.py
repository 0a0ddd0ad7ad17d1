"""``Functional``: a model defined by a graph of layer calls on ``Input`` tensors.

``Model(inputs, outputs)`` makes one (see ``Model.__new__``). The graph is read back from the
``KerasTensor`` histories: the layers are ordered as Keras orders them (by decreasing depth
from the outputs, then by discovery order), and the model runs its nodes in that order.
Config and saving live in ``functional_config.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.layers.fusion import pair_conv_pools
from gpunet.layers.layer import Layer, enter_call, exit_call, shape_str, unique_name
from gpunet.layers.node import KerasTensor, Node, flatten, symbolic_call
from gpunet.models.data import is_text
from gpunet.models.model import Model
from gpunet.registry import register, snake_case


def _structure(s: Any, leaf: Any) -> Any:
    """``s`` with every KerasTensor replaced by ``leaf(tensor)``."""
    if isinstance(s, KerasTensor):
        return leaf(s)
    if isinstance(s, (list, tuple)):
        return [_structure(x, leaf) for x in s]
    if isinstance(s, dict):
        return {k: _structure(v, leaf) for k, v in s.items()}
    return s


def _check_tensors(value: Any, what: str) -> None:
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    for t in items:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"All `{what}` of a Functional model must be KerasTensors (the "
                            "result of Input() or of calling a layer on one). Received: "
                            f"{t!r} (of type {type(t).__name__}).")


def map_graph(inputs: list[KerasTensor], outputs: list[KerasTensor]):
    """Nodes in execution order and layers in Keras order, checking connectivity and names.

    Keras's rules: a depth-first walk from the outputs lists the nodes (parents first) and
    numbers the layers as they are first finished; the outputs are at depth 0 and every
    parent node is one deeper than its deepest child; layers are listed by decreasing depth,
    ties by that number. Inputs the outputs do not use get depth 0.

    Returns:
        ``(nodes, layers)``: the computing nodes (parents first) and the layers.
    """
    index: dict[int, int] = {}
    post: list[Node] = []
    seen: set[int] = set()
    layers_by_id: dict[int, Layer] = {}

    def visit(node: Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for t in node.input_tensors:
            if t._keras_history is None:
                raise ValueError(f"The tensor {t!r} has no layer history: it was not made by "
                                 "Input() or a layer call.")
            visit(t.node)
        lid = id(node.layer)
        layers_by_id[lid] = node.layer
        index.setdefault(lid, len(index))
        post.append(node)

    for t in outputs:
        visit(t.node)
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(post):
        d = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = d
        for t in node.input_tensors:
            p = t.node
            node_depth[id(p)] = max(d + 1, node_depth.get(id(p), 0))
    for t in inputs:
        layer = t._keras_history[0]
        if id(layer) not in layer_depth:
            layers_by_id[id(layer)] = layer
            layer_depth[id(layer)] = 0
            index[id(layer)] = -1
    # connectivity: every node input must be a model input or computed before
    computable = {id(t) for t in inputs}
    nodes = sorted(post, key=lambda n: -node_depth[id(n)])
    done_layers: list[str] = []
    for node in nodes:
        for t in node.input_tensors:
            if id(t) not in computable:
                missing = t._keras_history[0].name if t.node.is_input else None
                raise ValueError(
                    f"Graph disconnected: cannot obtain value for tensor {t!r} at layer "
                    f"'{node.layer.name}'." + (
                        f" The input '{missing}' is not in the model's `inputs`."
                        if missing else "") + " The following previous layers were accessed "
                    f"without issue: {done_layers}")
        if not node.is_input:
            computable.update(id(t) for t in node.outputs)
        done_layers.append(node.layer.name)
    by_depth: dict[int, list] = {}
    for lid, d in layer_depth.items():
        by_depth.setdefault(d, []).append(layers_by_id[lid])
    layers = []
    for d in sorted(by_depth, reverse=True):
        layers.extend(sorted(by_depth[d], key=lambda lyr: index[id(lyr)]))
    names: dict[str, int] = {}
    for layer in layers:
        names[layer.name] = names.get(layer.name, 0) + 1
    for name, count in names.items():
        if count > 1:
            raise ValueError(f'The name "{name}" is used {count} times in the model. All '
                             "layer names should be unique.")
    return [n for n in nodes if not n.is_input], layers


@register("layer", "Model")
class Functional(Model):
    """A model made of layers called on ``Input`` tensors: any directed acyclic graph, with
    several inputs and outputs, shared layers and nested models.

    Args:
        inputs: the model's input tensor(s) (from ``Input``): one, a list or a dict.
        outputs: the output tensor(s): one, a list or a dict (its keys name the outputs).
        name: the model name (default ``model``, numbered).

    Example:

    >>> a, b = Input((8,), name="a"), Input((4,), name="b")
    >>> h = concatenate([Dense(16, activation="relu")(a), b])
    >>> model = Model([a, b], [Dense(1, name="score")(h), Dense(3, name="cls")(h)])
    >>> model.compile("adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"})
    """

    _auto_track = False  # its layers are listed, not tracked from attributes

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        # Keras 3's names: "functional", "functional_1", ...; a subclass's own snake_case name
        auto = "functional" if type(self) is Functional else snake_case(type(self).__name__)
        super().__init__(name=name or unique_name(auto), trainable=trainable, **kwargs)
        _check_tensors(inputs, "inputs")
        _check_tensors(outputs, "outputs")
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:  # Keras: [x] -> x
            inputs = inputs[0]
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        if not flatten(inputs) or not flatten(outputs):
            raise ValueError(f"A Functional model needs at least one input and one output; "
                             f"model '{self.name}' received inputs={inputs!r}, "
                             f"outputs={outputs!r}.")
        self._nested_inputs = inputs
        self._nested_outputs = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        from gpunet.layers.core import InputLayer

        for i, t in enumerate(self.inputs):
            layer, node_index, _ = t._keras_history
            if not isinstance(layer, InputLayer):
                raise ValueError(f"Input {i} of model '{self.name}' is not an Input() tensor: "
                                 f"it is an output of layer '{layer.name}'. Model inputs must "
                                 "come from gpunet.Input(...).")
        self._nodes, self._layers = map_graph(self.inputs, self.outputs)
        self._make_plan()
        self.input_names = self._input_keys()
        self.output_names = self._output_keys()
        self._batch_input_shape = self.inputs[0].shape if len(self.inputs) == 1 else None
        self.output_shape_ = self.output_shape
        self.built = True

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """Every layer, InputLayers included, in Keras's order."""
        return list(self._layers)

    def _input_keys(self) -> list[str]:
        if isinstance(self._nested_inputs, dict):
            return sorted(self._nested_inputs)
        return [t._keras_history[0].name for t in self.inputs]

    def _output_keys(self) -> list[str]:
        if isinstance(self._nested_outputs, dict):
            return sorted(self._nested_outputs)
        names, out = {}, []
        for t in self.outputs:
            base = t._keras_history[0].name
            n = names.get(base, 0)
            names[base] = n + 1
            out.append(base if n == 0 else f"{base}_{n}")
        return out

    @property
    def input(self) -> Any:
        """The input tensor(s), in the structure given to the constructor."""
        return self._nested_inputs

    @property
    def output(self) -> Any:
        """The output tensor(s), in the structure given to the constructor."""
        return self._nested_outputs

    def _shapes(self, tensors: Any) -> Any:
        if isinstance(tensors, dict):
            return {k: v.shape for k, v in tensors.items()}
        if isinstance(tensors, list):
            return [t.shape for t in tensors]
        return tensors.shape

    @property
    def input_shape(self) -> Any:
        """The input shape (a list of shapes for several inputs)."""
        return self._shapes(self._nested_inputs)

    @property
    def output_shape(self) -> Any:
        """The output shape (a list of shapes for several outputs)."""
        return self._shapes(self._nested_outputs)

    def build(self, input_shape: Any = None) -> None:
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes if len(shapes) > 1 else shapes[0]

    # -- running -----------------------------------------------------------------------------
    def _make_plan(self) -> None:
        slots: dict[int, int] = {id(t): i for i, t in enumerate(self.inputs)}
        plan = []
        for node in self._nodes:
            for t in node.input_tensors:
                if id(t) not in slots:  # cannot happen after map_graph's check
                    raise ValueError(f"Graph disconnected at layer '{node.layer.name}'.")
            args = node.call_args
            if isinstance(args, KerasTensor):
                arg_spec = slots[id(args)]
            else:
                arg_spec = ("s", _structure(args, lambda t: ("t", slots[id(t)])))
            kw = {k: _structure(v, lambda t: ("t", slots[id(t)]))
                  for k, v in node.call_kwargs.items()}
            outs = []
            for t in node.outputs:
                slots[id(t)] = len(slots)
                outs.append(slots[id(t)])
            plan.append((node.layer, arg_spec, kw, outs))
        self._plan = pair_conv_pools(plan, {slots[id(t)] for t in self.outputs})
        self._n_slots = len(slots)
        self._out_slots = [slots[id(t)] for t in self.outputs]

    def _flat_inputs(self, inputs: Any) -> list:
        n = len(self.inputs)
        if isinstance(inputs, dict):
            missing = [k for k in self.input_names if k not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' expects inputs named {self.input_names}; "
                                 f"missing {missing}. Received keys: {sorted(inputs)}")
            return [inputs[k] for k in self.input_names]
        if isinstance(inputs, (list, tuple)) and n > 1 or (
                isinstance(inputs, (list, tuple)) and len(inputs) == 1 and n == 1
                and not isinstance(inputs[0], (int, float))):
            if len(inputs) != n:
                raise ValueError(f"Model '{self.name}' expects {n} input(s), but it received "
                                 f"{len(inputs)} input tensors.")
            return list(inputs)
        if n != 1:
            raise ValueError(f"Model '{self.name}' expects {n} inputs ({self.input_names}), but "
                             "it received a single input tensor.")
        return [inputs]

    def _to_tensor(self, x: Any, i: int) -> Tensor:
        text = is_text(x)  # host strings stay a NumPy array, for the text layers
        if not text and not isinstance(x, Tensor):
            x = Tensor(self.backend.asarray(x))
        exp = self.inputs[i].shape
        if x.ndim == len(exp) + 1 and x.shape[-1] == 1:  # Keras 3 adjusts a trailing 1
            x = np.squeeze(x, axis=-1) if text else ops.squeeze(x, axis=-1)
        elif x.ndim == len(exp) - 1 and exp[-1] == 1:
            x = np.expand_dims(x, axis=-1) if text else ops.expand_dims(x, axis=-1)
        if len(exp) != x.ndim or any(e is not None and e != s
                                     for e, s in zip(exp[1:], x.shape[1:])):
            layer = self.inputs[i]._keras_history[0].name
            raise ValueError(f"Input {i} ('{layer}') of model '{self.name}' is incompatible with "
                             f"the layer: expected shape={shape_str(exp)}, found shape="
                             f"{shape_str((None,) + tuple(x.shape[1:]))}")
        return x

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        vals: list = [None] * self._n_slots
        for i, x in enumerate(self._flat_inputs(inputs)):
            vals[i] = self._to_tensor(x, i)

        def get(spec):
            return vals[spec[1]] if isinstance(spec, tuple) and len(spec) == 2 and spec[
                0] == "t" else [get(s) for s in spec] if isinstance(spec, list) else {
                k: get(v) for k, v in spec.items()} if isinstance(spec, dict) else spec

        for layer, arg_spec, kw, outs in self._plan:
            args = vals[arg_spec] if isinstance(arg_spec, int) else get(arg_spec[1])
            if kw:
                kwv = {k: get(v) for k, v in kw.items()}
                recorded = kwv.pop("training", None)  # given when the graph was built
                out = layer(args, training=recorded if training is None else training, **kwv)
            else:
                out = layer(args, training=training)
            if len(outs) == 1:
                vals[outs[0]] = out[0] if isinstance(out, (list, tuple)) else out
            else:
                for s, o in zip(outs, out):
                    vals[s] = o
        results = [vals[s] for s in self._out_slots]
        return self._pack_outputs(results)

    def _pack_outputs(self, flat: list) -> Any:
        if isinstance(self._nested_outputs, dict):
            return dict(zip(self.output_names, flat))
        if isinstance(self._nested_outputs, list):
            return flat
        return flat[0]

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        from gpunet.layers.node import is_symbolic

        if inputs.__class__ is not Tensor and is_symbolic(inputs):
            return symbolic_call(self, inputs, training, kwargs)
        entry = enter_call(self)
        try:
            return self.call(inputs, training=training)
        finally:
            exit_call(entry)

    def predict_on_batch(self, x: Any) -> Any:
        """Outputs for one batch as NumPy array(s)."""
        from gpunet.autograd.engine import no_grad

        with no_grad():
            out = self(x, training=False)
        return _structure_np(out)

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        from gpunet.models.functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Functional:
        from gpunet.models.functional_config import functional_from_config

        return functional_from_config(cls, config, custom_objects)


def _structure_np(out: Any) -> Any:
    if isinstance(out, dict):
        return {k: v.numpy() for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [v.numpy() for v in out]
    return out.numpy()


__all__ = ["Functional", "map_graph"]
