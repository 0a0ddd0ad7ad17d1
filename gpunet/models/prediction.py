"""``predict``: outputs batch by batch in inference mode, with Keras 3's callbacks and bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.callbacks.base import CallbackList, as_callback_list
from gpunet.models.checks import positive_int
from gpunet.models.data_adapters import closes_streams, eval_stream, is_stream, pipeline_options
from gpunet.models.loop_bar import LoopBar
from gpunet.models.training_utils import (
    _arranger,
    _array_data,
    _ensure_ready,
    _is_multi,
    _unwrap,
    _verbose,
    uses_custom,
)


@closes_streams
def predict(model, x, batch_size, verbose, steps, callbacks, **kwargs):
    """``Model.predict``; see its docstring.

    Batch hooks run once per ``steps_per_execution`` batches, as in Keras 3:
    ``on_predict_batch_begin(first)`` before the group and ``on_predict_batch_end(first + n -
    1, {"outputs": ...})`` after it, the outputs of the group's batches concatenated.
    """
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
    flat = multi and not custom
    run = _runner(model, custom, flat)
    n = getattr(model, "steps_per_execution", 1) or 1
    verbose = _verbose(verbose)
    cbs = CallbackList(as_callback_list(callbacks), model=model, verbose=verbose, epochs=1,
                       steps=data.steps)
    bar = LoopBar(verbose, data.steps, "predict")
    want_end = cbs.wants_predict_batch_end
    outs: list = []
    first = 0
    cbs.on_predict_begin()
    with no_grad():
        for i, (xb, _, _) in enumerate(data.epoch()):
            if i % n == 0:
                cbs.on_predict_batch_begin(i)
                first = len(outs)
            outs.append(run(xb))
            if (i + 1) % n == 0:
                _batch_end(cbs, bar, i, outs[first:], want_end)
    seen = len(outs)
    if seen % n:
        _batch_end(cbs, bar, (seen - 1) // n * n + n - 1, outs[first:], want_end)
    cbs.on_predict_end()
    bar.end()
    if flat:
        b = model.backend
        arrays = [b.to_numpy(b.xp.concatenate([o[k] for o in outs], axis=0))
                  for k in range(len(model.outputs))]
        return model._pack_outputs(arrays)
    return _host(_join(outs))


def _runner(model, custom: bool, flat: bool) -> Callable[[Any], Any]:
    """One batch's raw outputs: the model's ``predict_step``, a multi-output model's flat
    list, or the model's output."""
    if custom:
        from gpunet.models.custom_step import _tensors

        return lambda xb: _raw_outputs(model.predict_step(_tensors(xb)))
    if flat:
        from gpunet.models.step import _flat_outputs

        return lambda xb: [o.data for o in _flat_outputs(
            model, model([Tensor(a) for a in xb], training=False))]
    return lambda xb: _raw_outputs(model(Tensor(xb), training=False))


def _batch_end(cbs, bar: LoopBar, index: int, chunk: list, want_end: bool) -> None:
    if want_end:
        cbs.on_predict_batch_end(index, {"outputs": chunk[0] if len(chunk) == 1
                                         else _join(chunk)})
    bar.batch_end(index)


def _raw_outputs(out: Any) -> Any:
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, (list, tuple)):
        return [_raw_outputs(o) for o in out]
    if isinstance(out, dict):
        return {k: _raw_outputs(v) for k, v in out.items()}
    return out


def _join(outs: list) -> Any:
    """The batches' outputs concatenated along the batch axis, structure kept (on device)."""
    first = outs[0]
    if isinstance(first, list):
        return [_join([o[k] for o in outs]) for k in range(len(first))]
    if isinstance(first, dict):
        return {k: _join([o[k] for o in outs]) for k in first}
    if len(outs) == 1:
        return first
    return backend_of(first).xp.concatenate(outs, axis=0)


def _host(out: Any) -> Any:
    if isinstance(out, list):
        return [_host(o) for o in out]
    if isinstance(out, dict):
        return {k: _host(v) for k, v in out.items()}
    return backend_of(out).to_numpy(out)
