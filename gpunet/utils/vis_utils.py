"""``plot_model`` / ``model_to_dot``: a model's layer graph as Graphviz DOT text, or a picture.

The DOT text is written here (no pydot needed); pictures (PNG, SVG, PDF, ...) are rendered
by Graphviz's ``dot`` program when it is on ``PATH``. The drawing follows Keras 2's: one
record node per layer labelled ``name: ClassName``, with ``{input:|output:}`` shape columns
when ``show_shapes=True``, edges along the data flow: a chain for ``Sequential`` models, the
layer graph (from each layer's inbound nodes) for ``Functional`` ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

_TEXT_FORMATS = ("dot", "gv")
_MISSING = ("plot_model could not find Graphviz's `dot` program on PATH, which it needs to draw "
            "a .{fmt} file. Install Graphviz (e.g. `apt-get install graphviz`, `brew install "
            "graphviz` or `conda install graphviz`; see https://graphviz.org/download/), or "
            "write the DOT text instead with to_file='model.dot'.")


def _escape(text: str) -> str:
    for ch in '\\{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def _shape(shape: Any) -> str:
    if shape is None:
        return "?"
    from gpunet.layers.layer import shape_str

    return _escape(shape_str(list(shape) if isinstance(shape, list) else tuple(shape)))


class DotGraph:
    """A DOT graph with pydot's main methods (``to_string``, ``create``, ``write``).

    Example:

    >>> dot = model_to_dot(model, show_shapes=True)
    >>> print(dot.to_string())
    >>> svg = dot.create(format="svg")  # needs Graphviz
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def to_string(self) -> str:
        return self.text

    __str__ = to_string

    def create(self, prog: str = "dot", format: str = "png") -> bytes:  # noqa: A002
        """Renders the graph with Graphviz and returns the bytes of the picture."""
        if format in _TEXT_FORMATS:
            return self.text.encode("utf8")
        exe = shutil.which(prog)
        if exe is None:
            raise ImportError(_MISSING.format(fmt=format))
        try:
            done = subprocess.run([exe, f"-T{format}"], input=self.text.encode("utf8"),
                                  capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError(f"Graphviz `{prog}` failed to run: {e}") from None
        if done.returncode != 0:
            raise RuntimeError(f"Graphviz `{prog} -T{format}` failed: "
                               f"{done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def write(self, path: str, prog: str = "dot", format: str = "raw") -> None:  # noqa: A002
        """Writes the DOT text (``format="raw"``/``"dot"``) or a rendered picture."""
        data = self.text.encode("utf8") if format in ("raw",) + _TEXT_FORMATS else \
            self.create(prog, format)
        with open(path, "wb") as fh:
            fh.write(data)


class _Builder:
    def __init__(self, show_shapes, show_dtype, show_layer_names, expand_nested,
                 show_layer_activations, show_trainable) -> None:
        self.opts = (show_shapes, show_dtype, show_layer_names, show_layer_activations,
                     show_trainable)
        self.expand = expand_nested
        self.lines: list[str] = []
        self._edges: set[str] = set()
        self.count = 0

    def label(self, layer, in_shape, out_shape) -> str:
        shapes, dtype, names, acts, trainable = self.opts
        cls = type(layer).__name__
        text = _escape(f"{layer.name}: {cls}" if names else cls)
        act = getattr(layer, "activation", None)
        if acts and act is not None and not isinstance(act, str):
            text = "{" + text + "|" + _escape(getattr(act, "__name__", str(act))) + "}"
        if trainable:
            text = "{" + text + "|" + ("Trainable" if layer.trainable else "Non-trainable") + "}"
        if dtype:
            text = f"{text}|{_escape(str(getattr(layer, 'dtype', '?')))}"
        if shapes:
            shapes_col = "{{" + _shape(in_shape) + "}|{" + _shape(out_shape) + "}}"
            text = "{" + text + "}|{input:|output:}|" + shapes_col
        return text

    def node(self, layer, in_shape, out_shape, indent: str) -> str:
        nid = f"n{self.count}"
        self.count += 1
        self.lines.append(f'{indent}{nid} [label="{self.label(layer, in_shape, out_shape)}"];')
        return nid

    def shapes(self, layer) -> tuple:
        from gpunet.layers.core import InputLayer

        if isinstance(layer, InputLayer):
            return layer.batch_shape, layer.batch_shape
        return getattr(layer, "input_shape_", None), getattr(layer, "output_shape_", None)

    def draw(self, model, indent: str) -> tuple[list[str], list[str]]:
        """Adds ``model``'s layers and edges; returns the node ids where its inputs enter and
        where its outputs leave (in input / output order)."""
        if hasattr(model, "_nodes"):
            return self.functional(model, indent)
        first, last = self.sequence(model, indent)
        return [first] if first else [], [last] if last else []

    def layer(self, layer, indent: str) -> tuple[list[str], list[str]]:
        """One layer: a node, or (``expand_nested``) a box holding a nested model."""
        from gpunet.models.model import Model

        if self.expand and isinstance(layer, Model):
            self.lines.append(f"{indent}subgraph cluster_{self.count} {{")
            self.lines.append(f'{indent}  label="{_escape(layer.name)}";')
            ins, outs = self.draw(layer, indent + "  ")
            self.lines.append(f"{indent}}}")
            return ins, outs
        nid = self.node(layer, *self.shapes(layer), indent)
        return [nid], [nid]

    def edge(self, indent: str, src: str | None, dst: str | None) -> None:
        line = f"{indent}{src} -> {dst};"
        if src is not None and dst is not None and line not in self._edges:
            self._edges.add(line)
            self.lines.append(line)

    def sequence(self, model, indent: str, last: str | None = None
                 ) -> tuple[str | None, str | None]:
        """Adds ``model``'s layers after node ``last``; returns its first and last node ids."""
        first = None
        for layer in model.layers:
            ins, outs = self.layer(layer, indent)
            head, tail = (ins[0] if ins else None), (outs[-1] if outs else None)
            if last is not None:
                self.edge(indent, last, head)
            first = first or head
            last = tail or last
        return first, last

    def functional(self, model, indent: str) -> tuple[list[str], list[str]]:
        """A Functional model's DAG: an edge for every tensor passed between layers, read from
        the model's nodes (shared layers have one node and several edges)."""
        drawn: dict[int, tuple[list[str], list[str]]] = {}
        for layer in model.layers:
            drawn[id(layer)] = self.layer(layer, indent)

        def leave(t) -> str | None:
            src, _, tensor_index = t._keras_history
            outs = drawn.get(id(src), ([], []))[1]
            return outs[min(tensor_index, len(outs) - 1)] if outs else None

        for node in model._nodes:
            ins = drawn.get(id(node.layer), ([], []))[0]
            for k, t in enumerate(node.input_tensors):
                self.edge(indent, leave(t), ins[min(k, len(ins) - 1)] if ins else None)
        entries = [drawn[id(t._keras_history[0])][0][0] for t in model.inputs]
        return entries, [leave(t) for t in model.outputs]


def model_to_dot(model, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB",
                 expand_nested: bool = False, dpi: int = 96, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False) -> DotGraph:
    """The model's layer graph as DOT.

    Args:
        model: a ``Sequential`` model (built or not: unknown shapes show as ``?``), drawn
            as a chain, or a ``Functional`` model, drawn as its graph: one node per layer
            and one edge per tensor passed between layers (a shared layer has one node).
        show_shapes: add each layer's input and output shapes.
        show_dtype: add each layer's dtype.
        show_layer_names: label nodes ``name: ClassName`` (else ``ClassName``).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: draw nested models' layers inside a box instead of one node.
        dpi: resolution of rendered pictures.
        show_layer_activations: add the activation of layers that have one.
        show_trainable: add whether each layer is trainable.

    Returns:
        A ``DotGraph`` (``to_string()`` gives the DOT text).
    """
    from gpunet.models.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"model_to_dot expects a model. Received: {type(model).__name__}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL'. Received: {rankdir!r}")
    b = _Builder(show_shapes, show_dtype, show_layer_names, expand_nested,
                 show_layer_activations, show_trainable)
    if hasattr(model, "_nodes"):  # Functional: the real graph, from the layers' nodes
        b.functional(model, "  ")
    else:
        inp = getattr(model, "_input_layer", None)
        first_in = None
        if inp is not None:
            first_in = b.node(inp, inp.batch_shape, inp.batch_shape, "  ")
        b.sequence(model, "  ", first_in)
    kind = "subgraph" if subgraph else "digraph"
    header = [f'{kind} "{_escape(model.name)}" {{',
              f'  graph [rankdir={rankdir}, concentrate=true, dpi={int(dpi)}];',
              "  node [shape=record];"]
    return DotGraph("\n".join(header + b.lines + ["}"]) + "\n")


def plot_model(model, to_file: str = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = True, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 96, show_layer_activations: bool = False,
               show_trainable: bool = False):
    """Draws the model's layer graph into ``to_file``.

    The picture format comes from the extension (``.png``, ``.svg``, ``.pdf``, ``.jpg``...,
    rendered with Graphviz's ``dot``); ``.dot``/``.gv`` write the DOT text and need nothing.

    Args:
        model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
        show_layer_activations, show_trainable: as for ``model_to_dot``.
        to_file: the output file.

    Returns:
        An ``IPython.display.Image`` when running under IPython and drawing a bitmap,
        else None.

    Raises:
        ImportError: when a picture is asked for and Graphviz's ``dot`` is not installed.

    Example:

    >>> gpunet.utils.plot_model(model, "model.png", show_shapes=True)
    """
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable)
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1][1:].lower() or "png"
    data = dot.create(format=ext)
    d = os.path.dirname(os.path.abspath(to_file))
    os.makedirs(d, exist_ok=True)
    with open(to_file, "wb") as fh:
        fh.write(data)
    if ext in ("png", "jpg", "jpeg", "gif") and "IPython" in sys.modules:
        try:
            from IPython import display

            return display.Image(filename=to_file)
        except ImportError:
            pass
    return None


__all__ = ["DotGraph", "model_to_dot", "plot_model"]
