"""``model.summary()``: the Keras 2 plain-text layer table."""

from __future__ import annotations

from typing import Any

from gpunet.layers.layer import shape_str


def _fmt_bytes(n: int) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    v = float(n)
    for u in units:
        if v < 1024 or u == units[-1]:
            return f"{v:.2f} {u}"
        v /= 1024
    return f"{v:.2f} TB"


def _row(fields: list[str], positions: list[int]) -> str:
    line = ""
    for i, f in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += f
        line = line[:positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def print_summary(model: Any, line_length: int | None = None, positions: Any = None,
                  print_fn: Any = None, show_trainable: bool = False) -> None:
    """Prints the table of layers, output shapes and parameter counts, then the totals."""
    print_fn = print_fn or print
    functional = hasattr(model, "_nodes")
    width = line_length or (98 if functional else 65)
    pos = positions or ([0.3, 0.6, 0.7, 1.0] if functional else [0.45, 0.85, 1.0])
    if pos[-1] <= 1:
        pos = [int(width * p) for p in pos]
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional
                                                               else [])
    if show_trainable:
        width += 11
        pos = pos + [width]
        headers.append("Trainable")
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * width)
    print_fn(_row([" " + headers[0]] + headers[1:], pos))
    print_fn("=" * width)
    layers = model.layers
    links = _connections(model) if functional else {}
    for i, layer in enumerate(layers):
        out = _output_shape(layer, model) if functional else (
            shape_str(layer.output_shape_) if layer.output_shape_ is not None else "?")
        n = layer.count_params() if layer.built else 0
        fields = [f" {layer.name} ({type(layer).__name__})", out, str(n)]
        extra: list[str] = []
        if functional:
            conn = links.get(id(layer), [])
            lines = [repr(c) for c in conn]
            lines = ["[" + ",\n".join(lines) + "]"] if lines else ["[]"]
            parts = lines[0].split("\n")
            fields.append(parts[0])
            extra = parts[1:]
        if show_trainable:
            fields.append("Y" if layer.trainable else "N")
        print_fn(_row(fields, pos))
        for more in extra:
            print_fn(_row([""] * (len(pos) - 1 - show_trainable) + [" " + more] + (
                [""] if show_trainable else []), pos))
        print_fn(("" if not functional else " " * width) if i < len(layers) - 1 else "=" * width)
    if not layers:
        print_fn("=" * width)
    weights = model.weights if model.built else []
    t = sum(w.data.size for w in weights if w.trainable)
    nt = sum(w.data.size for w in weights if not w.trainable)
    tb = sum(w.data.nbytes for w in weights if w.trainable)
    nb = sum(w.data.nbytes for w in weights if not w.trainable)
    print_fn(f"Total params: {t + nt:,} ({_fmt_bytes(tb + nb)})")
    print_fn(f"Trainable params: {t:,} ({_fmt_bytes(tb)})")
    print_fn(f"Non-trainable params: {nt:,} ({_fmt_bytes(nb)})")
    print_fn("_" * width)


def _model_nodes(model: Any) -> set:
    return {id(n) for n in model._nodes}


def _connections(model: Any) -> dict[int, list[str]]:
    """``id(layer) -> ["inbound[node][tensor]", ...]`` over the model's nodes."""
    from gpunet.models.functional_config import _node_keys

    keys = _node_keys(model)
    out: dict[int, list[str]] = {}
    for node in model._nodes:
        conns = out.setdefault(id(node.layer), [])
        for t in node.input_tensors:
            layer, _, ti = t._keras_history
            conns.append(f"{layer.name}[{keys.get(id(t.node), 0)}][{ti}]")
    return out


def _output_shape(layer: Any, model: Any) -> str:
    nodes = [n for n in getattr(layer, "_inbound_nodes", []) if id(n) in _model_nodes(model)
             or (n.is_input and any(t is n.outputs[0] for t in model.inputs))]
    shapes = {tuple(tuple(t.shape) for t in n.outputs) for n in nodes}
    if not shapes:
        return "?"
    if len(shapes) > 1:
        return "multiple"
    (outs,) = shapes
    if nodes[0].is_input:
        return "[" + shape_str(outs[0]) + "]"
    return shape_str(outs[0]) if len(outs) == 1 else shape_str([list(o) for o in outs])
