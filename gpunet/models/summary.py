"""``model.summary()``: Keras 3's box table of layers, output shapes and parameter counts.

The table is drawn as Keras 3 draws it with ``rich`` (heavy header, one rule between rows,
columns sized from ``positions`` and shrunk evenly to fit ``line_length``), without needing
``rich``: the text is the same character for character (without the colour codes).
"""

from __future__ import annotations

import re
import shutil
from typing import Any

from gpunet.models.summary_table import draw_table


def readable_memory_size(n: float) -> str:
    """``198.79 KB``: bytes in the largest unit that keeps the number at least 1."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


def _format_shape(shape: Any) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _shapes_text(shapes: list) -> str:
    if len(shapes) == 1:
        return _format_shape(shapes[0])
    return "[" + ", ".join(_format_shape(s) for s in shapes) + "]"


def _layer_shape(layer: Any) -> str:
    """The output shape of the layer's last call (Keras 3 shows the last inbound node)."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if nodes:
        return _shapes_text([tuple(t.shape) for t in nodes[-1].outputs])
    shape = getattr(layer, "output_shape_", None)
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return _shapes_text(shape)
    return _format_shape(shape)


def _params(layer: Any) -> str:
    if not getattr(layer, "built", True):
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def _is_chain(model: Any) -> bool:
    """Keras 3 prints a Functional model without a "Connected to" column when its graph is a
    chain: one node per depth, each with at most one input tensor, each layer called once."""
    nodes = list(model._nodes)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    consumers: dict[int, int] = {}
    layers_seen: set[int] = set()
    for node in nodes:
        if len(node.input_tensors) > 1 or id(node.layer) in layers_seen:
            return False
        layers_seen.add(id(node.layer))
        for t in node.input_tensors:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    return all(c <= 1 for c in consumers.values())


def _connections(model: Any, layer: Any, keys: dict) -> str:
    """``dense_1[0][0], dense_2[0][0]``: the tensors feeding the layer's nodes in the model."""
    mine = {id(n) for n in model._nodes}
    out = []
    for node in getattr(layer, "_inbound_nodes", []):
        if id(node) not in mine:
            continue
        for t in node.input_tensors:
            src, _, ti = t._keras_history
            out.append(f"{src.name}[{keys.get(id(t.node), 0)}][{ti}]")
    return ", ".join(out) or "-"


def _layer_range(layers: list, layer_range: Any) -> tuple[int, int]:
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(s, str) for s in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lo = [i for i, lyr in enumerate(layers) if re.match(layer_range[0], lyr.name)]
    hi = [i for i, lyr in enumerate(layers) if re.match(layer_range[1], lyr.name)]
    if not lo or not hi:
        raise ValueError("Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}")
    if min(lo) > max(hi):
        return min(hi), max(lo) + 1
    return min(lo), max(hi) + 1


def _optimizer_params(model: Any) -> tuple[int, int] | None:
    """(count, bytes) of the optimizer's variables once it is built, as Keras 3 counts them:
    the slots, plus the iteration counter (int64) and the learning rate (float32)."""
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(opt, "_groups", None):
        return None
    arrays = [a for _, a in opt.get_slot_arrays()]
    return 2 + sum(int(a.size) for a in arrays), 12 + sum(int(a.nbytes) for a in arrays)


def print_summary(model: Any, line_length: int | None = None, positions: Any = None,
                  print_fn: Any = None, show_trainable: bool = False,
                  expand_nested: bool = False, layer_range: Any = None) -> None:
    """Prints the table of layers, output shapes and parameter counts, then the totals.

    Args:
        model: the model.
        line_length: total width (default: 88 for a chain of layers, 108 with the
            "Connected to" column, at most the terminal width less 4, as Keras 3).
        positions: relative (<= 1) or absolute right edges of the columns.
        print_fn: called once with the whole summary (default: ``print``).
        show_trainable: add a "Trainable" column (Y / N / - for layers without weights).
        expand_nested: also list the layers of nested models, indented.
        layer_range: two regular expressions naming the first and last layer to list.
    """
    functional = hasattr(model, "_nodes") and hasattr(model, "inputs")
    chain = not functional or _is_chain(model)
    if chain:
        default, pos = 88, list(positions or [0.45, 0.80, 1.0])
        header, align = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default, pos = 108, list(positions or [0.3, 0.56, 0.74, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    if show_trainable:
        default += 12
        pos = [p * 0.90 for p in pos] + [1.0]
        header.append("Trainable")
        align.append("center")
    default = min(default, shutil.get_terminal_size().columns - 4)
    width = line_length or default
    widths, current = [], 0
    for p in pos:
        w = int(p * width) - current if p <= 1 else int(p) - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(w)
        current += w
    keys = {}
    if functional and not chain:
        from gpunet.models.functional_config import _node_keys

        keys = _node_keys(model)

    def rows_of(layer: Any, level: int = 0) -> list[list[str]]:
        prefix = "   " * level + "└ " if level else ""
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", _layer_shape(layer),
               _params(layer)]
        if not chain:
            row.append(_connections(model, layer, keys))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows = [row]
        if expand_nested and getattr(layer, "layers", None) and layer is not model:
            for sub in layer.layers:
                rows.extend(rows_of(sub, level + 1))
        return rows

    layers = list(model.layers)
    lo, hi = _layer_range(layers, layer_range)
    rows = [r for layer in layers[lo:hi] for r in rows_of(layer)]
    ws = model.weights if model.built else []
    t = sum(int(w.data.size) for w in ws if w.trainable)
    nt = sum(int(w.data.size) for w in ws if not w.trainable)
    tb = sum(int(w.data.nbytes) for w in ws if w.trainable)
    nb = sum(int(w.data.nbytes) for w in ws if not w.trainable)
    opt = _optimizer_params(model)
    total, total_bytes = t + nt + (opt[0] if opt else 0), tb + nb + (opt[1] if opt else 0)
    lines = [f'Model: "{model.name}"'] + draw_table(header, align, widths, rows, width)
    lines += [f" Total params: {total:,} ({readable_memory_size(total_bytes)})",
              f" Trainable params: {t:,} ({readable_memory_size(tb)})",
              f" Non-trainable params: {nt:,} ({readable_memory_size(nb)})"]
    if opt:
        lines.append(f" Optimizer params: {opt[0]:,} ({readable_memory_size(opt[1])})")
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        print(text, end="", flush=True)
    else:
        print_fn(text)
