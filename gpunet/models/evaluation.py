"""``evaluate`` and ``train_on_batch``: the loops besides ``fit`` (``predict`` lives in
``prediction.py`` and is re-exported here)."""

from __future__ import annotations

from gpunet.callbacks.base import CallbackList, as_callback_list, pythonify_logs
from gpunet.models.checks import check_sparse_labels, positive_int, target_checker
from gpunet.models.data import ArrayData, class_weights_to_sample_weights
from gpunet.models.data_adapters import closes_streams, eval_stream, is_stream, pipeline_options
from gpunet.models.finite_guard import FiniteGuard
from gpunet.models.loop_bar import LoopBar
from gpunet.models.prediction import predict  # noqa: F401 - re-exported
from gpunet.models.training_utils import (
    _arranger,
    _array_data,
    _ensure_ready,
    _fresh_metrics,
    _is_multi,
    _single_class_weight,
    _unwrap,
    _verbose,
    make_step,
    uses_custom,
)


def _require(model, kind: str, what: str) -> None:
    if uses_custom(model, kind):
        if not getattr(model, "compiled", False):
            raise RuntimeError(f"You must call `compile()` before `{what}()`.")
    else:
        model._require_compiled(what)


@closes_streams
def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict,
             **kwargs):
    """``Model.evaluate``; see its docstring."""
    _require(model, "test", "evaluate")
    multi = _is_multi(model)
    options = pipeline_options(kwargs)
    batch_size = positive_int("batch_size", batch_size, "evaluate")
    steps = positive_int("steps", steps, "evaluate")
    if x is None:
        raise ValueError("evaluate() needs input data: received x=None.")
    if is_stream(x):
        data = eval_stream(model.backend, x, y, sample_weight, "evaluate", steps, options,
                           _arranger(model, multi))
        if not multi:
            data.check_targets = target_checker(model)
        _ensure_ready(model, data.peek())
    else:
        if y is None and not uses_custom(model, "test"):
            raise ValueError("evaluate() needs targets `y` when `x` is an array.")
        if not multi:
            x, y, sample_weight = _unwrap(model, x, y, sample_weight)
        data = _array_data(model, multi, x, y, sample_weight, batch_size or 32, False, steps)
        _ensure_ready(model, tuple(data.x.shape))
        if not multi:
            check_sparse_labels(model, y)
    step = make_step(model, multi, "test")
    if step.metrics is not None:
        step.metrics = _fresh_metrics(model)
    step.reset()
    n = getattr(model, "steps_per_execution", 1) or 1
    verbose = _verbose(verbose)
    cbs = CallbackList(as_callback_list(callbacks), model=model, verbose=verbose, epochs=1,
                       steps=data.steps)
    bar = LoopBar(verbose, data.steps, "test")
    want_end = cbs.wants_test_batch_end
    cbs.on_test_begin()
    seen = 0
    for i, (xb, yb, wb) in enumerate(data.epoch()):
        if i % n == 0:
            cbs.on_test_batch_begin(i)
        step.test(xb, yb, wb)
        seen = i + 1
        if seen % n == 0:
            cbs.on_test_batch_end(i, step.logs() if want_end else {})
            bar.batch_end(i, step.logs)
    if seen % n:
        last = (seen - 1) // n * n + n - 1
        cbs.on_test_batch_end(last, step.logs() if want_end else {})
        bar.batch_end(last, step.logs)
    logs = step.logs()
    shown = cbs.on_test_end(logs)  # Keras 3: sorted keys
    bar.end(shown)
    if return_dict:
        return shown
    vals = list(logs.values())  # Keras 3: in the order of `metrics_names`
    return vals[0] if len(vals) == 1 else vals


def train_on_batch(model, x, y, sample_weight, class_weight, return_dict):
    """``Model.train_on_batch``: one step, guarded like ``fit``'s (a step that gives a
    non-finite loss or weights is undone, and the loss returned is that non-finite value)."""
    _require(model, "train", "train_on_batch")
    multi = _is_multi(model)
    if class_weight is not None and multi:
        from gpunet.models.multi_io import class_weights_multi, to_lists

        x, y, sample_weight = to_lists(model, x, y, sample_weight)
        sample_weight = class_weights_multi(model, y, sample_weight, class_weight)
    elif class_weight is not None:
        sample_weight = class_weights_to_sample_weights(
            y, _single_class_weight(model, class_weight))
    if multi:
        from gpunet.models.multi_io import to_lists

        n = len(to_lists(model, x, None, None)[0][0])
        data = _array_data(model, True, x, y, sample_weight, n, False, None)
    else:
        x, y, sample_weight = _unwrap(model, x, y, sample_weight)
        _ensure_ready(model, tuple(x.shape))
        data = ArrayData(model.backend, x, y, sample_weight, len(x), False)
        check_sparse_labels(model, y)
    _ensure_ready(model, tuple(data.x.shape))
    custom = uses_custom(model, "train")
    step = make_step(model, multi, "train")
    step.guard = FiniteGuard(model, model.optimizer, custom=custom)
    step.reset()
    xb, yb, wb = next(iter(data.epoch()))
    step.train(xb, yb, wb)
    logs = step.logs()
    if return_dict:
        return pythonify_logs(logs)  # Keras 3: sorted keys
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals
