"""Helpers shared by the ``fit`` / ``evaluate`` / ``predict`` loops: data routing for one- and
several-input models, step objects, validation scheduling and fresh metric copies."""

from __future__ import annotations

from typing import Any

from gpunet.models.data import ArrayData
from gpunet.models.step import MultiStep, _Step


def _verbose(v: Any) -> int:
    return 1 if v == "auto" else int(v)


def _is_multi(model) -> bool:
    if not hasattr(model, "_nodes"):
        return False
    from gpunet.models.multi_io import is_multi

    return is_multi(model)


def _unwrap(model, x, y, w):
    """A one-input, one-output Functional model also takes ``[x]`` / ``{"name": x}``."""
    if hasattr(model, "_nodes") and (isinstance(x, (dict, list, tuple)) or isinstance(
            y, (dict, list, tuple))):
        from gpunet.models.multi_io import single_arrays

        return single_arrays(model, x, y, w)
    return x, y, w


def _single_class_weight(model, class_weight: Any) -> Any:
    """A one-output model also takes Keras 2's ``{output_name: {class: weight}}``."""
    names = getattr(model, "output_names", None)
    if isinstance(class_weight, dict) and len(class_weight) == 1 and names:
        (key, value), = class_weight.items()
        if key in names and isinstance(value, dict):
            return value
    return class_weight


def _arranger(model, multi: bool, class_weight: Any = None):
    """For Functional models: how a generator's batches (lists / dicts keyed by input and
    output names) map onto the model."""
    if not hasattr(model, "_nodes"):
        return None
    from gpunet.models.multi_io import stream_arranger

    if multi:
        return stream_arranger(model, class_weight)
    cw = None if class_weight is None else {model.output_names[0]: class_weight}
    return stream_arranger(model, cw, single=True)


def _make_step(model, multi: bool):
    return MultiStep(model) if multi else _Step(model)


_CUSTOM = {
    # the Keras methods that, when a subclass overrides one, make fit / evaluate call the
    # model's own step methods instead of the fused built-in step
    "train": ("train_step", "compute_loss", "compute_metrics", "metrics", "reset_metrics",
              "get_metrics_result"),
    "test": ("test_step", "compute_loss", "compute_metrics", "metrics", "reset_metrics",
             "get_metrics_result"),
    "predict": ("predict_step",),
}


def uses_custom(model, kind: str) -> bool:
    """Whether ``fit`` (``kind="train"``), ``evaluate`` (``"test"``) or ``predict`` must call
    the model's own ``train_step`` / ``test_step`` / ``predict_step``."""
    from gpunet.models.steps_api import TrainerAPI, overrides

    if not isinstance(model, TrainerAPI):
        return False
    if kind != "predict" and getattr(model, "compiled", False) and model._loss is None:
        # compiled without a loss (Keras's `compile(optimizer)`): the default train/test step
        # minimizes the losses the layers add (`add_loss`), or says there is no loss
        return True
    return overrides(model, *_CUSTOM[kind])


def make_step(model, multi: bool, kind: str):
    """The step object for ``kind``: the user's step methods when overridden, else the fused
    built-in step (same numbers, fewer Python calls per batch)."""
    if uses_custom(model, kind):
        from gpunet.models.custom_step import CustomStep

        return CustomStep(model)
    step = _make_step(model, multi)
    if kind == "train" and hasattr(model, "_loss_tracker_metric"):
        step.tracker = model._loss_tracker_metric  # model.metrics[0], as in Keras
    return step


def _array_data(model, multi, x, y, w, batch_size, shuffle, steps, prefix=""):
    if multi:
        from gpunet.models.multi_io import MultiArrayData, to_lists

        xs, ys, ws = to_lists(model, x, y, w)
        return MultiArrayData(model.backend, xs, ys, ws, batch_size, shuffle, steps, prefix)
    if prefix:
        return ArrayData(model.backend, x, y, w, batch_size, shuffle, steps,
                         names=("validation x", "validation y", "validation sample_weight"))
    return ArrayData(model.backend, x, y, w, batch_size, shuffle, steps)


def _ensure_ready(model, x_shape: tuple) -> None:
    if not model.built:
        model.build((None,) + tuple(x_shape[1:]))
    model._pack()
    if any(v._flat_group is not g for g in model._groups for v in g.variables):
        # another optimizer re-packed some weights (a custom loop): pack them again, keeping
        # the model optimizer's state
        opt = model.optimizer
        state = [a for _, a in opt.get_slot_arrays()] if opt is not None and opt.built else None
        model._packed_key = ()
        model._pack()
        if state is not None:
            opt.set_slot_arrays(state)


def _unpack(data: Any):
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return data[0], data[1], (data[2] if len(data) == 3 else None)
    raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                     f"(x_val, y_val, val_sample_weight). Received: {type(data).__name__}")


def _due(epoch: int, freq: Any) -> bool:
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq


def _fresh_metrics(model):
    from gpunet.models.compile_utils import MetricsContainer

    src = model._metrics
    if hasattr(src, "fresh"):
        return src.fresh()
    m = MetricsContainer(src.specs, src.weighted_specs)
    if src.built:
        m.metrics = [type(x).from_config(x.get_config()) if not hasattr(x, "fn")
                     else _clone_wrapper(x) for x in src.metrics]
        m.weighted = [type(x).from_config(x.get_config()) if not hasattr(x, "fn")
                      else _clone_wrapper(x) for x in src.weighted]
        m.built = True
    return m


def _clone_wrapper(m):
    from gpunet.metrics import MeanMetricWrapper

    return MeanMetricWrapper(m.fn, name=m.name, **m.fn_kwargs)


