"""Several inputs and outputs: per-output losses and metrics, and data given as lists/dicts.

Keras 2 rules: ``loss`` is one loss (used for every output), a list (one per output) or a
dict keyed by output name (outputs left out get no loss); ``loss_weights`` a list or dict;
``metrics`` a list (for every output), a list of lists or a dict per output. Logs are named
``loss`` (the weighted total plus regularizers), ``<output>_loss`` (each output's unweighted
loss) and ``<output>_<metric>``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import Backend, to_numpy
from gpunet.models.compile_utils import LossContainer, MetricsContainer
from gpunet.models.data import ArrayData, _check_numeric, _host, take_rows, to_device


def _per_output(spec: Any, names: list[str], what: str, nested_list: bool = False) -> list:
    """One entry per output from a single value, a list or a dict keyed by output name."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"Unknown entries in {what} dictionary: {unknown}. Only expected "
                             f"the following keys (the output names): {names}")
        return [spec.get(k) for k in names]
    if isinstance(spec, (list, tuple)):
        if nested_list and not any(isinstance(s, (list, tuple, dict)) for s in spec):
            return [list(spec)] * n  # a plain metric list applies to every output
        if len(spec) != n:
            raise ValueError(f"When passing a list as `{what}`, it should have one entry per "
                             f"model output. The model has {n} outputs ({names}), but "
                             f"`{what}` has {len(spec)} entries: {spec!r}")
        return list(spec)
    return [spec] * n


class MultiLossContainer:
    """The compiled loss of a model with several outputs: ``Σ w_k · loss_k``."""

    def __init__(self, loss: Any, loss_weights: Any, output_names: list[str]) -> None:
        self.names = list(output_names)
        specs = _per_output(loss, self.names, "loss")
        if all(s is None for s in specs):
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        if loss_weights is None or isinstance(loss_weights, (int, float)):
            weights = [1.0 if loss_weights is None else float(loss_weights)] * len(self.names)
        else:
            weights = [1.0 if w is None else float(w) for w in
                       _per_output(loss_weights, self.names, "loss_weights")]
        self.weights = weights
        self.containers = [None if s is None else LossContainer(s) for s in specs]
        self.values: list = [None] * len(self.names)

    @property
    def active(self) -> list[int]:
        """Indices of the outputs that have a loss."""
        return [i for i, c in enumerate(self.containers) if c is not None]

    def __call__(self, ys: list, outs: list, sample_weights: list | None = None) -> Tensor:
        total = None
        for i, c in enumerate(self.containers):
            if c is None:
                continue
            if ys[i] is None:
                raise ValueError(f"Output '{self.names[i]}' has a loss but no target data was "
                                 "given for it in `y`.")
            v = c(ys[i], outs[i], None if sample_weights is None else sample_weights[i])
            self.values[i] = v
            term = v * self.weights[i] if self.weights[i] != 1.0 else v
            total = term if total is None else total + term
        return total


class MultiMetricsContainer:
    """One ``MetricsContainer`` per output; metric names get the ``<output>_`` prefix."""

    def __init__(self, metrics: Any, weighted_metrics: Any, output_names: list[str]) -> None:
        self.names = list(output_names)
        ms = _per_output(metrics, self.names, "metrics", nested_list=True)
        ws = _per_output(weighted_metrics, self.names, "weighted_metrics", nested_list=True)
        self.per = [MetricsContainer(m, w) for m, w in zip(ms, ws)]
        self.specs = [s for c in self.per for s in c.specs]
        self.weighted_specs = [s for c in self.per for s in c.weighted_specs]
        self.built = False

    def build(self, y_shapes: list, p_shapes: list) -> None:
        for name, c, ys, ps in zip(self.names, self.per, y_shapes, p_shapes):
            c.build(ys if ys is not None else ps, ps)
            if len(self.names) > 1:
                for m in c.all:
                    m.name = f"{name}_{m.name}"
        self.built = True

    def update(self, ys: list, ps: list, ws: list | None = None) -> None:
        for i, c in enumerate(self.per):
            if ys[i] is not None:
                c.update(ys[i], ps[i], None if ws is None else ws[i])

    def reset(self) -> None:
        for c in self.per:
            c.reset()

    @property
    def all(self) -> list:
        return [m for c in self.per for m in c.all]

    def fresh(self) -> MultiMetricsContainer:
        """A new container with the same specs (built like this one when it is built)."""
        from gpunet.models.training import _fresh_metrics

        out = MultiMetricsContainer(None, None, self.names)
        holder = type("_Holder", (), {})()
        for i, c in enumerate(self.per):
            holder._metrics = c
            out.per[i] = _fresh_metrics(holder)
        out.specs, out.weighted_specs, out.built = self.specs, self.weighted_specs, self.built
        return out

    def metric_names(self) -> list[str]:
        if self.built:
            return [m.name for m in self.all]
        from gpunet.models.model import _spec_name

        pre = len(self.names) > 1
        return [(f"{n}_" if pre else "") + _spec_name(s) for n, c in zip(self.names, self.per)
                for s in c.specs + c.weighted_specs]


# -- data -------------------------------------------------------------------------------------
def is_multi(model: Any) -> bool:
    """Whether ``model`` has several inputs or outputs (the list/dict data path)."""
    return hasattr(model, "_nodes") and (len(model.inputs) > 1 or len(model.outputs) > 1)


def _as_list(data: Any, names: list[str], what: str, model_name: str,
             allow_missing: bool = False) -> list | None:
    if data is None:
        return None
    n = len(names)
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        missing = [k for k in names if k not in data]
        if unknown or (missing and not allow_missing):
            raise ValueError(f"Model '{model_name}' expects `{what}` keyed by {names}; "
                             f"missing {missing}, unknown {unknown}. Received keys: "
                             f"{sorted(data)}")
        return [data.get(k) for k in names]
    if isinstance(data, (list, tuple)) and n > 1:
        if len(data) != n:
            raise ValueError(f"Model '{model_name}' expects {n} arrays for `{what}` ({names}), "
                             f"but received {len(data)}.")
        return list(data)
    if isinstance(data, (list, tuple)) and len(data) == 1 and hasattr(data[0], "shape"):
        return [data[0]]
    if n != 1:
        raise ValueError(f"Model '{model_name}' expects {n} arrays for `{what}` ({names}), but "
                         "received a single array.")
    return [data]


def to_lists(model: Any, x: Any, y: Any, sample_weight: Any):
    """``x``, ``y`` and ``sample_weight`` as lists in the model's input / output order."""
    xs = _as_list(x, model.input_names, "x", model.name)
    ys = _as_list(y, model.output_names, "y", model.name, allow_missing=True)
    ws = None
    if sample_weight is not None:
        if isinstance(sample_weight, (dict, list, tuple)) and not (
                isinstance(sample_weight, (list, tuple)) and sample_weight[0] is not None
                and np.ndim(sample_weight[0]) == 0):
            ws = _as_list(sample_weight, model.output_names, "sample_weight", model.name,
                          allow_missing=True)
        else:
            ws = [sample_weight] * len(model.output_names)
    return xs, ys, ws


def class_weights_multi(model: Any, ys: list | None, ws: list | None,
                        class_weight: Any) -> list:
    """Per-output sample weights from Keras 2's ``{output_name: {class: weight}}``.

    Outputs left out of ``class_weight`` keep their ``sample_weight`` (or none); where both
    are given, they are multiplied (Keras 2's rule).

    Raises:
        ValueError: for a plain ``{class: weight}`` dict (ambiguous with several outputs),
            unknown output names, or an output without targets.
    """
    names = list(model.output_names)
    if not isinstance(class_weight, dict) or not class_weight or not all(
            isinstance(v, dict) for v in class_weight.values()):
        raise ValueError(
            f"Model '{model.name}' has several outputs ({names}): `class_weight` must be a "
            "dict keyed by output name whose values are {class: weight} dicts, e.g. "
            f"class_weight={{'{names[0]}': {{0: 1.0, 1: 5.0}}}}. Received: {class_weight!r}")
    unknown = [k for k in class_weight if k not in names]
    if unknown:
        raise ValueError(f"Unknown output names in `class_weight`: {unknown}. The outputs of "
                         f"model '{model.name}' are {names}.")
    from gpunet.models.data import class_weights_to_sample_weights

    out = list(ws) if ws is not None else [None] * len(names)
    for i, name in enumerate(names):
        cw = class_weight.get(name)
        if cw is None:
            continue
        if ys is None or ys[i] is None:
            raise ValueError(f"`class_weight` is given for output '{name}', but no target "
                             "data was given for it in `y`.")
        sw = class_weights_to_sample_weights(ys[i], cw)
        if out[i] is not None:
            prev = _host(out[i])
            prev = to_numpy(prev)
            sw = sw * prev.reshape(len(prev), -1)[:, 0].astype(sw.dtype)
        out[i] = sw
    return out


def stream_arranger(model: Any, class_weight: Any = None, single: bool = False):
    """``arrange(x, y, sample_weight) -> (xs, ys, ws)``: one batch of a generator or
    Sequence (lists or dicts) in the model's input / output order, class weights applied.
    ``single``: a one-input, one-output Functional model (its batches are then unwrapped)."""
    def arrange(x: Any, y: Any, w: Any):
        xs, ys, ws = to_lists(model, x, y, w)
        if class_weight is not None:
            ws = class_weights_multi(model, ys, ws, class_weight)
        return xs, ys, ws

    arrange.n_inputs = len(model.inputs)
    arrange.single = single
    return arrange


def single_arrays(model: Any, x: Any, y: Any, sample_weight: Any):
    """For a one-input, one-output Functional model: unwrap lists / dicts to plain arrays."""
    xs, ys, ws = to_lists(model, x, y, sample_weight)
    return xs[0], (None if ys is None else ys[0]), (None if ws is None else ws[0])


def split_validation_multi(xs: list, ys: list | None, ws: list | None, validation_split: float):
    """Keras's rule on every array alike: the last fraction, taken before shuffling."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: "
                         f"validation_split={validation_split}")
    n = len(_host(xs[0]))
    at = int(math.floor(n * (1.0 - validation_split)))
    if at == 0 or at == n:
        raise ValueError(f"validation_split={validation_split} leaves no data for "
                         f"{'training' if at == 0 else 'validation'} ({n} samples in total).")

    def cut(arrs):
        if arrs is None:
            return None, None
        hs = [_host(a) for a in arrs]
        return ([None if a is None else a[:at] for a in hs],
                [None if a is None else a[at:] for a in hs])

    (xt, xv), (yt, yv), (wt, wv) = cut(xs), cut(ys), cut(ws)
    return (xt, yt, wt), (xv, yv, wv)


class MultiArrayData(ArrayData):
    """Like ``ArrayData`` with lists of arrays: every batch takes the same rows of each."""

    def __init__(self, backend: Backend, xs: list, ys: list | None = None,
                 ws: list | None = None, batch_size: int = 32, shuffle: Any = False,
                 steps: int | None = None, prefix: str = "") -> None:
        self.b = backend
        groups = {"x": xs, "y": ys, "sample_weight": ws}
        host = {k: None if v is None else [_host(a) for a in v] for k, v in groups.items()}
        n = None
        for kind, arrs in host.items():
            for i, a in enumerate(arrs or []):
                if a is None:
                    continue
                _check_numeric(f"{prefix}{kind}[{i}]", a, allow_text=kind == "x")
                if n is None:
                    n = len(a)
                elif len(a) != n:
                    raise ValueError(
                        f"Data cardinality is ambiguous: {prefix}x[0] has {n} samples but "
                        f"{prefix}{kind}[{i}] has {len(a)} samples. Make sure all arrays "
                        "contain the same number of samples.")
        if not n:
            raise ValueError("Expected non-empty data; received x with 0 samples.")
        self.n = n
        kinds = {"x": "x", "y": "y", "sample_weight": "w"}
        dev = {k: None if v is None else [None if a is None else to_device(backend, a, kinds[k])
                                          for a in v] for k, v in host.items()}
        self.xs, self.ys, self.ws = dev["x"], dev["y"], dev["sample_weight"]
        self.x = self.xs[0]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.steps = steps or math.ceil(n / self.batch_size)
        self._order = None
        self._pos = 0

    def epoch(self):
        """Yields ``steps`` batches ``(xs, ys, ws)`` of lists."""
        def take(arrs, key):
            return None if arrs is None else [None if a is None else take_rows(self.b, a, key)
                                              for a in arrs]

        for _ in range(self.steps):
            if self._order is None and self._pos == 0 or self._pos >= self.n:
                self._new_pass()
            lo, hi = self._pos, min(self._pos + self.batch_size, self.n)
            self._pos = hi
            key = slice(lo, hi) if self._order is None else self._order[lo:hi]
            yield take(self.xs, key), take(self.ys, key), take(self.ws, key)


__all__ = ["MultiArrayData", "MultiLossContainer", "MultiMetricsContainer",
           "class_weights_multi", "is_multi", "single_arrays", "split_validation_multi",
           "stream_arranger", "to_lists"]
