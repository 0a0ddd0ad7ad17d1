"""``evaluate``, ``predict`` and ``train_on_batch``: the loops besides ``fit``."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.callbacks.base import CallbackList, as_callback_list
from gpunet.models.checks import check_sparse_labels, positive_int, target_checker
from gpunet.models.data import ArrayData, class_weights_to_sample_weights
from gpunet.models.data_adapters import closes_streams, eval_stream, is_stream, pipeline_options
from gpunet.models.finite_guard import FiniteGuard
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
    cbs = CallbackList(as_callback_list(callbacks), model=model, verbose=_verbose(verbose),
                       steps=data.steps)
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
    if seen % n:
        cbs.on_test_batch_end((seen - 1) // n * n + n - 1, step.logs() if want_end else {})
    logs = step.logs()
    cbs.on_test_end(logs)
    if _verbose(verbose):
        print(f"{seen}/{data.steps or seen} - " + " - ".join(f"{k}: {v:.4f}" for k, v in
                                                             logs.items()))
    if return_dict:
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals


@closes_streams
def predict(model, x, batch_size, verbose, steps, callbacks, **kwargs):
    """``Model.predict``; see its docstring."""
    options = pipeline_options(kwargs)
    batch_size = positive_int("batch_size", batch_size, "predict")
    steps = positive_int("steps", steps, "predict")
    if x is None:
        raise ValueError("predict() needs input data: received x=None.")
    multi = _is_multi(model)
    if is_stream(x):
        data = eval_stream(model.backend, x, None, None, "predict", steps, options,
                           _arranger(model, multi))
        _ensure_ready(model, data.peek())
    else:
        if not multi:
            x, _, _ = _unwrap(model, x, None, None)
        data = _array_data(model, multi, x, None, None, batch_size or 32, False, steps)
        _ensure_ready(model, tuple(data.x.shape))
    custom = uses_custom(model, "predict")
    if multi and not custom:
        return _predict_multi(model, data, callbacks)
    outs = []
    n = getattr(model, "steps_per_execution", 1) or 1
    cbs = CallbackList(as_callback_list(callbacks), model=model, steps=data.steps)
    cbs.on_predict_begin()
    seen = 0
    with no_grad():
        for i, (xb, _, _) in enumerate(data.epoch()):
            if i % n == 0:
                cbs.on_predict_batch_begin(i)
            if custom:
                from gpunet.models.custom_step import _tensors

                out = model.predict_step(_tensors(xb))
            else:
                out = model(Tensor(xb), training=False)
            outs.append(_raw_outputs(out))
            seen = i + 1
            if seen % n == 0:
                cbs.on_predict_batch_end(i, {"outputs": outs[-1]})
    if seen % n:
        cbs.on_predict_batch_end((seen - 1) // n * n + n - 1, {"outputs": outs[-1]})
    cbs.on_predict_end()
    return _concat(model.backend, outs)


def _raw_outputs(out: Any) -> Any:
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, (list, tuple)):
        return [_raw_outputs(o) for o in out]
    if isinstance(out, dict):
        return {k: _raw_outputs(v) for k, v in out.items()}
    return out


def _concat(b, outs: list) -> Any:
    first = outs[0]
    if isinstance(first, list):
        return [_concat(b, [o[k] for o in outs]) for k in range(len(first))]
    if isinstance(first, dict):
        return {k: _concat(b, [o[k] for o in outs]) for k in first}
    from gpunet.backend import backend_of

    b = backend_of(first)
    return b.to_numpy(b.xp.concatenate(outs, axis=0))


def _predict_multi(model, data, callbacks):
    from gpunet.models.step import _flat_outputs

    outs: list = []
    cbs = CallbackList(as_callback_list(callbacks), model=model, steps=data.steps)
    cbs.on_predict_begin()
    with no_grad():
        for i, (xb, _, _) in enumerate(data.epoch()):
            cbs.on_predict_batch_begin(i)
            outs.append([o.data for o in _flat_outputs(
                model, model([Tensor(a) for a in xb], training=False))])
            cbs.on_predict_batch_end(i, {"outputs": outs[-1]})
    cbs.on_predict_end()
    b = model.backend
    arrays = [b.to_numpy(b.xp.concatenate([o[k] for o in outs], axis=0))
              for k in range(len(model.outputs))]
    return model._pack_outputs(arrays)


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
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals
