"""``fit``'s data preparation: arrays or streams for training and validation, the validation
split, class weights and the argument checks, before the first step."""

from __future__ import annotations

import math
from typing import Any

from gpunet.backend import to_numpy
from gpunet.models.checks import check_sparse_labels, positive_int, target_checker
from gpunet.models.data import class_weights_to_sample_weights, split_validation
from gpunet.models.data_adapters import fit_stream, is_stream, validation_stream
from gpunet.models.training_utils import (
    _arranger,
    _array_data,
    _due,
    _ensure_ready,
    _single_class_weight,
    _unpack,
    _unwrap,
)


def check_fit_args(batch_size: Any, epochs: Any, initial_epoch: Any, steps_per_epoch: Any,
                   validation_steps: Any, validation_batch_size: Any) -> tuple:
    """The checked ``batch_size``, ``steps_per_epoch``, ``validation_steps`` and
    ``validation_batch_size`` (each a positive integer or None)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            import numpy as np

            if not (isinstance(value, np.integer) and value >= 0):
                raise ValueError(f"fit(): `{name}` must be a non-negative integer. "
                                 f"Received: {name}={value!r}")
    return (positive_int("batch_size", batch_size, "fit"),
            positive_int("steps_per_epoch", steps_per_epoch, "fit"),
            positive_int("validation_steps", validation_steps, "fit"),
            positive_int("validation_batch_size", validation_batch_size, "fit"))


def _class_weighted(model, multi, x, y, sample_weight, class_weight):
    if class_weight is not None and multi:  # Keras 2: {output_name: {class: weight}}
        from gpunet.models.multi_io import class_weights_multi, to_lists

        x, y, sample_weight = to_lists(model, x, y, sample_weight)
        sample_weight = class_weights_multi(model, y, sample_weight, class_weight)
    elif class_weight is not None:
        cw = class_weights_to_sample_weights(y, class_weight)
        if sample_weight is not None:
            sw = to_numpy(sample_weight)
            cw = cw * sw.reshape(len(sw), -1)[:, 0].astype(cw.dtype)
        sample_weight = cw
    return x, y, sample_weight


def prepare_fit(model, multi: bool, custom: bool, x, y, batch_size, epochs, validation_split,
                validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                steps_per_epoch, validation_steps, validation_batch_size, validation_freq,
                options: dict) -> tuple:
    """``(train, val_data)``: the training data and the validation data (or None).

    ``custom`` (a user ``train_step``) allows ``y=None``: the batches are then ``x`` alone.
    """
    if x is None:
        raise ValueError("fit() needs training data: received x=None.")
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
        if not multi:
            train.check_targets = target_checker(model)
        _ensure_ready(model, train.peek())
    else:
        if y is None and not custom:
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
        x, y, sample_weight = _class_weighted(model, multi, x, y, sample_weight, class_weight)
        n = len(x[0] if multi and isinstance(x, list) else next(iter(x.values()))
                if multi and isinstance(x, dict) else x)
        if batch_size is None:
            batch_size = math.ceil(n / steps_per_epoch) if steps_per_epoch else 32
        train = _array_data(model, multi, x, y, sample_weight, batch_size, shuffle,
                            steps_per_epoch)
        _ensure_ready(model, tuple(train.x.shape))
        if not multi:
            check_sparse_labels(model, y)
    val_data = None
    if is_stream(validation_data):
        runs = sum(_due(e, validation_freq) for e in range(initial_epoch, epochs))
        val_data = validation_stream(model.backend, validation_data, validation_steps, runs,
                                     options, _arranger(model, multi))
        if not multi:
            val_data.check_targets = target_checker(model)
    elif val is not None:
        vx, vy, vw = val
        if not multi:
            vx, vy, vw = _unwrap(model, vx, vy, vw)
            check_sparse_labels(model, vy)
        val_data = _array_data(model, multi, vx, vy, vw, validation_batch_size or batch_size
                               or 32, False, validation_steps, prefix="validation ")
    return train, val_data
