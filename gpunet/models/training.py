"""The training loop behind ``Model.fit`` (``evaluate`` / ``predict`` / ``train_on_batch`` live
in ``evaluation.py`` and are re-exported here)."""

from __future__ import annotations

import time
import warnings

from gpunet.callbacks import History, ProgbarLogger
from gpunet.callbacks.base import CallbackList, as_callback_list, pythonify_logs
from gpunet.models.checks import check_sparse_labels as _check_sparse_labels  # noqa: F401
from gpunet.models.data_adapters import closes_streams, pipeline_options
from gpunet.models.evaluation import evaluate, predict, train_on_batch  # noqa: F401
from gpunet.models.finite_guard import FiniteGuard
from gpunet.models.fit_data import check_fit_args, prepare_fit
from gpunet.models.step import log_value  # noqa: F401 - re-exported
from gpunet.models.training_utils import (
    _due,
    _fresh_metrics,
    _is_multi,
    _verbose,
    make_step,
    uses_custom,
)


@closes_streams
def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq, **kwargs):
    """``Model.fit``; see its docstring."""
    custom = uses_custom(model, "train")
    if custom:
        if not getattr(model, "compiled", False):
            raise RuntimeError("You must call `compile()` before `fit()`.")
    else:
        model._require_compiled("fit")
    multi = _is_multi(model)
    options = pipeline_options(kwargs)  # Keras 2's workers / max_queue_size / ...
    if kwargs:
        raise TypeError(f"fit() got unexpected keyword arguments: {sorted(kwargs)}")
    batch_size, steps_per_epoch, validation_steps, validation_batch_size = check_fit_args(
        batch_size, epochs, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size)
    verbose = _verbose(verbose)
    train, val_data = prepare_fit(
        model, multi, custom, x, y, batch_size, epochs, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq, options)
    step = make_step(model, multi, "train")
    step.guard = FiniteGuard(model, model.optimizer, custom=custom)
    history = History()
    cbs = CallbackList(as_callback_list(callbacks) + [history], model=model, verbose=verbose,
                       epochs=epochs, steps=train.steps)
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
    logs: dict = {}
    skipped = 0
    for epoch in range(initial_epoch, epochs):
        step.reset()
        cbs.on_epoch_begin(epoch)
        if bar is not None:
            bar.on_epoch_begin(epoch)
        last = _train_epoch(model, step, train, cbs, bar, verbose)
        if last < 0 and getattr(train, "ran_out", False):
            break  # the input ran out of data before this epoch's first batch
        if bar is not None and train.steps is None:
            # a generator's epoch length is known at its end
            bar.params["steps"] = bar._bar.target = last + 1
        logs = step.logs() if last >= 0 else {}
        now = step.guard.skipped()
        if now > skipped and verbose:
            warnings.warn(f"Epoch {epoch + 1}: {now - skipped} training step(s) gave a "
                          "non-finite loss or non-finite weights and were skipped (the weights "
                          "and optimizer state from before each such step are kept).",
                          RuntimeWarning, stacklevel=3)
        skipped = now
        if val_data is not None and _due(epoch, validation_freq):
            val_logs = _validate(model, multi, val_data, cbs)
            # a validation generator that ran out (warned) adds no val_ logs
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        shown = cbs.on_epoch_end(epoch, logs)  # sorted keys, as Keras 3 shows them
        if bar is not None:
            bar.on_epoch_end(epoch, shown)
        if model.stop_training:
            break
    if epochs > initial_epoch and model.optimizer is not None:
        # EMA: the averages replace the weights (Keras 3 order)
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs)
    return history


def _train_epoch(model, step, train, cbs, bar, verbose: int) -> int:
    """One epoch of training steps; returns the index of the last batch run (-1: none).

    Batch hooks run once per ``steps_per_execution`` steps, as in Keras 3:
    ``on_train_batch_begin(first)`` before the group, ``on_train_batch_end(first + n - 1,
    logs)`` after it (also for a shorter last group).
    """
    n = getattr(model, "steps_per_execution", 1) or 1
    want_begin, want_end = cbs.wants_train_batch_begin, cbs.wants_train_batch_end
    last = -1
    first = 0
    for i, (xb, yb, wb) in enumerate(train.epoch()):
        if i % n == 0:
            first = i
            if want_begin:
                cbs.on_train_batch_begin(i)
        step.train(xb, yb, wb)
        last = i
        if (i + 1) % n:
            continue
        if want_end:
            cbs.on_train_batch_end(i, step.logs())
        if bar is not None and verbose == 1 and time.time() - bar._bar._last >= 0.05:
            bar._bar.update(i + 1, list(pythonify_logs(step.logs()).items()), finalize=False)
        if model.stop_training:
            return last
    if last >= 0 and (last + 1) % n and want_end:
        cbs.on_train_batch_end(first + n - 1, step.logs())
    return last


def _validate(model, multi: bool, val_data, cbs) -> dict:
    """Keras runs ``fit``'s validation as an ``evaluate()`` with the same callbacks."""
    vstep = make_step(model, multi, "test")
    if vstep.metrics is not None:
        vstep.metrics = _fresh_metrics(model)
    vstep.reset()
    n = getattr(model, "steps_per_execution", 1) or 1
    want_end = cbs.wants_test_batch_end
    seen = 0
    cbs.on_test_begin()
    for i, (xb, yb, wb) in enumerate(val_data.epoch()):
        if i % n == 0:
            cbs.on_test_batch_begin(i)
        vstep.test(xb, yb, wb)
        seen = i + 1
        if seen % n == 0:
            cbs.on_test_batch_end(i, vstep.logs() if want_end else {})
    if seen % n:
        cbs.on_test_batch_end((seen - 1) // n * n + n - 1, vstep.logs() if want_end else {})
    val_logs = vstep.logs() if seen else {}
    cbs.on_test_end(val_logs)
    return val_logs


__all__ = ["evaluate", "fit", "log_value", "predict", "train_on_batch"]
