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
    width = line_length or 65
    pos = positions or [0.45, 0.85, 1.0]
    if pos[-1] <= 1:
        pos = [int(width * p) for p in pos]
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if show_trainable:
        width += 11
        pos = pos + [width]
        headers.append("Trainable")
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * width)
    print_fn(_row([" " + headers[0]] + headers[1:], pos))
    print_fn("=" * width)
    layers = model.layers
    for i, layer in enumerate(layers):
        out = shape_str(layer.output_shape_) if layer.output_shape_ is not None else "?"
        n = layer.count_params() if layer.built else 0
        fields = [f" {layer.name} ({type(layer).__name__})", out, str(n)]
        if show_trainable:
            fields.append("Y" if layer.trainable else "N")
        print_fn(_row(fields, pos))
        print_fn("" if i < len(layers) - 1 else "=" * width)
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
