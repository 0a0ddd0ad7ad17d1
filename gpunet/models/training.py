"""The training, evaluation and prediction loops behind ``Model.fit/evaluate/predict``."""

from __future__ import annotations

import math
import time
from typing import Any

from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.callbacks import CallbackList, History, ProgbarLogger
from gpunet.models.data import ArrayData, class_weights_to_sample_weights, split_validation
from gpunet.models.data_adapters import (
    closes_streams,
    eval_stream,
    fit_stream,
    is_stream,
    pipeline_options,
    validation_stream,
)
from gpunet.models.step import MultiStep, _Step, log_value  # noqa: F401 - log_value re-exported


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


def _unpack(data: Any):
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return data[0], data[1], (data[2] if len(data) == 3 else None)
    raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                     f"(x_val, y_val, val_sample_weight). Received: {type(data).__name__}")


@closes_streams
def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq, **kwargs):
    model._require_compiled("fit")
    multi = _is_multi(model)
    options = pipeline_options(kwargs)  # Keras 2's workers / max_queue_size / ...
    if kwargs:
        raise TypeError(f"fit() got unexpected keyword arguments: {sorted(kwargs)}")
    if x is None:
        raise ValueError("fit() needs training data: received x=None.")
    verbose = _verbose(verbose)
    val = None
    if validation_data is not None and not is_stream(validation_data):
        val = _unpack(validation_data)
    if class_weight is not None and not multi:
        class_weight = _single_class_weight(model, class_weight)
    if is_stream(x):  # generator / iterator / Sequence: batches prepared in the background
        train = fit_stream(model.backend, x, y, sample_weight, class_weight, validation_split,
                           shuffle, steps_per_epoch, epochs - initial_epoch, options,
                           lambda: setattr(model, "stop_training", True),
                           _arranger(model, multi, class_weight))
        _ensure_ready(model, train.peek())
    else:
        if y is None:
            raise ValueError("fit() needs targets `y` when `x` is an array.")
        if not multi:
            x, y, sample_weight = _unwrap(model, x, y, sample_weight)
        if multi and validation_data is None and validation_split:
            from gpunet.models.multi_io import split_validation_multi, to_lists

            (x, y, sample_weight), val = split_validation_multi(
                *to_lists(model, x, y, sample_weight), validation_split)
        elif validation_data is None and validation_split:
            (x, y, sample_weight), val = split_validation(x, y, sample_weight, validation_split)
        elif not 0 <= validation_split < 1:
            split_validation(x, y, sample_weight, validation_split)
        if class_weight is not None and multi:  # Keras 2: {output_name: {class: weight}}
            from gpunet.models.multi_io import class_weights_multi, to_lists

            x, y, sample_weight = to_lists(model, x, y, sample_weight)
            sample_weight = class_weights_multi(model, y, sample_weight, class_weight)
        elif class_weight is not None:
            cw = class_weights_to_sample_weights(y, class_weight)
            if sample_weight is not None:
                import numpy as np

                sw = sample_weight.get() if hasattr(sample_weight, "get") else np.asarray(
                    sample_weight)
                cw = cw * sw.reshape(len(sw), -1)[:, 0].astype(cw.dtype)
            sample_weight = cw
        n = len(x[0] if multi and isinstance(x, list) else next(iter(x.values()))
                if multi and isinstance(x, dict) else x)
        if batch_size is None:
            batch_size = math.ceil(n / steps_per_epoch) if steps_per_epoch else 32
        train = _array_data(model, multi, x, y, sample_weight, batch_size, shuffle,
                            steps_per_epoch)
        _ensure_ready(model, tuple(train.x.shape))
        if not multi and model.backend.name != "numpy":
            _check_sparse_labels(model, y)
    b = model.backend
    val_data = None
    if is_stream(validation_data):
        runs = sum(_due(e, validation_freq) for e in range(initial_epoch, epochs))
        val_data = validation_stream(b, validation_data, validation_steps, runs, options,
                                     _arranger(model, multi))
    elif val is not None:
        vx, vy, vw = val
        if not multi:
            vx, vy, vw = _unwrap(model, vx, vy, vw)
        val_data = _array_data(model, multi, vx, vy, vw, validation_batch_size or batch_size
                               or 32, False, validation_steps, prefix="validation ")
    step = _make_step(model, multi)
    history = History()
    user = list(callbacks or [])
    cbs = CallbackList(user + [history], model=model, verbose=verbose, epochs=epochs,
                       steps=train.steps)
    bar = ProgbarLogger(verbose) if verbose else None
    if bar is not None:
        bar.set_model(model)
        bar.set_params({"verbose": verbose, "epochs": epochs, "steps": train.steps})
    model.stop_training = False
    model.history = history
    model._initial_epoch = None
    cbs.on_train_begin()
    # a callback (BackupAndRestore) may set the epoch to resume from
    if model._initial_epoch is not None:
        initial_epoch, model._initial_epoch = model._initial_epoch, None
    want_batch_logs = cbs.wants_train_batch_end
    stopped_for_nan = None
    logs: dict = {}
    for epoch in range(initial_epoch, epochs):
        step.reset()
        cbs.on_epoch_begin(epoch)
        if bar is not None:
            bar.on_epoch_begin(epoch)
        last = -1
        for i, (xb, yb, wb) in enumerate(train.epoch()):
            if cbs.wants_train_batch_begin:
                cbs.on_train_batch_begin(i)
            if not step.train(xb, yb, wb):
                stopped_for_nan = (epoch, i)
                model.stop_training = True
                break
            last = i
            if want_batch_logs:
                cbs.on_train_batch_end(i, step.logs())
            if bar is not None and verbose == 1 and time.time() - bar._bar._last >= 0.05:
                bar._bar.update(i + 1, list(step.logs().items()), finalize=False)
            if model.stop_training:
                break
        if last < 0 and getattr(train, "ran_out", False):
            break  # the input ran out of data before this epoch's first batch
        if bar is not None and train.steps is None:
            # a generator's epoch length is known at its end
            bar.params["steps"] = bar._bar.target = last + 1
        if stopped_for_nan is not None:
            e, i = stopped_for_nan
            print(f"Epoch {e + 1}, batch {i}: invalid loss (NaN or Inf), terminating training. "
                  "The weights from before this batch are kept.")
            if last < 0:
                break
        logs = step.logs() if last >= 0 else {}
        if not math.isfinite(logs.get("loss", 0.0)) and stopped_for_nan is None:
            print(f"Epoch {epoch + 1}: invalid loss (NaN or Inf), terminating training.")
            model.stop_training = True
        if val_data is not None and _due(epoch, validation_freq) and stopped_for_nan is None:
            vstep = _make_step(model, multi)
            vstep.metrics = _fresh_metrics(model)
            seen = 0
            cbs.on_test_begin()  # Keras runs fit's validation as an evaluate() with the
            for i, (xb, yb, wb) in enumerate(val_data.epoch()):  # same callbacks
                cbs.on_test_batch_begin(i)
                vstep.test(xb, yb, wb)
                cbs.on_test_batch_end(i)
                seen += 1
            val_logs = vstep.logs() if seen else {}
            cbs.on_test_end(val_logs)
            # a validation generator that ran out (warned) adds no val_ logs
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        if bar is not None:
            bar.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if epochs > initial_epoch:  # EMA: the averages replace the weights (Keras 3 order)
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs)
    return history


def _check_sparse_labels(model, y) -> None:
    """Sparse labels outside ``[0, units)``: checked once per ``fit`` on the whole array when
    the model lives on a GPU (the per-batch check of the loss would sync every step)."""
    import numpy as np

    from gpunet import losses as losses_mod

    fn = model._loss.fn
    inner = getattr(fn, "fn", fn)
    if inner is not losses_mod.sparse_categorical_crossentropy or getattr(
            fn, "fn_kwargs", {}).get("ignore_class") is not None:
        return
    units = (model.output_shape or (None,))[-1]
    labels = y.get() if hasattr(y, "get") else np.asarray(y)
    if not units or labels.size == 0 or labels.dtype.kind not in "iuf":
        return
    lo, hi = labels.min(), labels.max()
    if lo < 0 or hi >= units:
        raise ValueError(
            f"Received a label value of {int(lo if lo < 0 else hi)} which is outside the valid "
            f"range of [0, {units - 1}] for loss 'sparse_categorical_crossentropy' "
            f"(predictions have {units} classes).")


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


@closes_streams
def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict,
             **kwargs):
    model._require_compiled("evaluate")
    multi = _is_multi(model)
    options = pipeline_options(kwargs)
    if x is None:
        raise ValueError("evaluate() needs input data: received x=None.")
    if is_stream(x):
        data = eval_stream(model.backend, x, y, sample_weight, "evaluate", steps, options,
                           _arranger(model, multi))
        _ensure_ready(model, data.peek())
    else:
        if y is None:
            raise ValueError("evaluate() needs targets `y` when `x` is an array.")
        if not multi:
            x, y, sample_weight = _unwrap(model, x, y, sample_weight)
        data = _array_data(model, multi, x, y, sample_weight, batch_size or 32, False, steps)
        _ensure_ready(model, tuple(data.x.shape))
    step = _make_step(model, multi)
    step.metrics = _fresh_metrics(model)
    cbs = CallbackList(callbacks, model=model, verbose=_verbose(verbose), steps=data.steps)
    cbs.on_test_begin()
    seen = 0
    for i, (xb, yb, wb) in enumerate(data.epoch()):
        cbs.on_test_batch_begin(i)
        step.test(xb, yb, wb)
        cbs.on_test_batch_end(i)
        seen = i + 1
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
    options = pipeline_options(kwargs)
    if x is None:
        raise ValueError("predict() needs input data: received x=None.")
    if is_stream(x):
        data = eval_stream(model.backend, x, None, None, "predict", steps, options,
                           _arranger(model, _is_multi(model)))
        _ensure_ready(model, data.peek())
    else:
        multi = _is_multi(model)
        if not multi:
            x, _, _ = _unwrap(model, x, None, None)
        data = _array_data(model, multi, x, None, None, batch_size or 32, False, steps)
        _ensure_ready(model, tuple(data.x.shape))
    if _is_multi(model):
        return _predict_multi(model, data, callbacks)
    outs = []
    cbs = CallbackList(callbacks, model=model, steps=data.steps)
    cbs.on_predict_begin()
    with no_grad():
        for i, (xb, _, _) in enumerate(data.epoch()):
            cbs.on_predict_batch_begin(i)
            outs.append(model(Tensor(xb), training=False).data)
            cbs.on_predict_batch_end(i)
    cbs.on_predict_end()
    b = model.backend
    return b.to_numpy(b.xp.concatenate(outs, axis=0))


def _predict_multi(model, data, callbacks):
    from gpunet.models.step import _flat_outputs

    outs: list = []
    cbs = CallbackList(callbacks, model=model, steps=data.steps)
    cbs.on_predict_begin()
    with no_grad():
        for i, (xb, _, _) in enumerate(data.epoch()):
            cbs.on_predict_batch_begin(i)
            outs.append([o.data for o in _flat_outputs(
                model, model([Tensor(a) for a in xb], training=False))])
            cbs.on_predict_batch_end(i)
    cbs.on_predict_end()
    b = model.backend
    arrays = [b.to_numpy(b.xp.concatenate([o[k] for o in outs], axis=0))
              for k in range(len(model.outputs))]
    return model._pack_outputs(arrays)


def train_on_batch(model, x, y, sample_weight, class_weight, return_dict):
    model._require_compiled("train_on_batch")
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
    _ensure_ready(model, tuple(data.x.shape))
    step = _make_step(model, multi)
    step.metrics.reset()
    xb, yb, wb = next(iter(data.epoch()))
    if not step.train(xb, yb, wb):
        raise FloatingPointError("train_on_batch: the loss is NaN or Inf; no update was made.")
    logs = step.logs()
    if return_dict:
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals
