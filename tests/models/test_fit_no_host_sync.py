"""``fit`` reads nothing back from the device during a training step.

A stand-in device (``standin_device.py``) runs the CuPy code paths of gpunet on NumPy: its
arrays are NumPy arrays whose type gpunet takes for a CuPy one, its backend object is the one
``backend_of`` returns for them (``name == "cupy"``, ``is_host`` False, the fused update
kernels run from their CUDA bodies), and every way a value can leave the device is counted:
``to_numpy``, ``float()`` / ``int()`` / ``bool()`` / ``item()`` / ``tolist()`` / ``get()``
on a device array, formatting one, and ``np.asarray`` / ``np.array`` of one in gpunet's code.
Reductions keep 0-d device arrays, as CuPy's do, so a read of a loss or a norm is counted.

Allowed per epoch (verbose=0, no batch callbacks): the epoch's logs, one read per log entry
(the loss and each metric), and one read of the finite guard's count of skipped steps.
Validation adds one read per ``val_`` log entry per epoch. Allowed per ``fit``: nothing else
after the data went to the device. Per training step: none, with every optimizer, including
``LossScaleOptimizer`` (its finite flag, scale and counter stay on the device).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet import layers
from gpunet.models.finite_guard import FiniteGuard

sys.path.insert(0, os.path.dirname(__file__))
from standin_device import READS, DeviceArray, StandInDevice, count_np_conversions  # noqa: E402


@pytest.fixture
def device(monkeypatch):
    """The stand-in device, known to ``backend_of`` as GPU 0 for the test."""
    dev = StandInDevice()
    monkeypatch.setitem(B._CUPY, 0, dev)
    READS.records = []
    yield dev
    READS.on = False


def _fit(device, optimizer, batches: int, epochs: int = 2, validation: bool = False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16 * batches, 20)).astype("float32")
    y = rng.integers(0, 10, size=16 * batches)
    with B.device(device):
        model = gpunet.Sequential([layers.Input((20,)), layers.Dense(32, activation="relu"),
                                   layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    assert B.backend_of(model.weights[0].data) is device  # the model lives on the stand-in
    counts = []
    real_skipped = FiniteGuard.skipped

    def skipped(guard):
        counts.append(type(guard._count))  # the skipped-step counter lives on the device
        return real_skipped(guard)

    with pytest.MonkeyPatch.context() as mp:
        count_np_conversions(mp)
        mp.setattr(FiniteGuard, "skipped", skipped)
        READS.on = True
        history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0,
                            validation_data=(x[:40], y[:40]) if validation else None)
        READS.on = False
    # the device paths ran: weights, slots and the guard's count stayed on the stand-in
    assert all(type(w.data) is DeviceArray for w in model.weights)
    assert all(type(a) is DeviceArray for g in model.optimizer._slots for a in g.values())
    assert counts and all(t is DeviceArray for t in counts)
    return model, history


def _explain(records) -> str:
    return "\n".join(f"{kind}: {' <- '.join(stack[:6])}" for kind, stack in records)


O = gpunet.optimizers
OPTIMIZERS = {
    "adam": lambda: O.Adam(1e-3),
    "lamb": lambda: O.Lamb(1e-3),
    "adafactor": lambda: O.Adafactor(1e-3),
    "adam_clipnorm": lambda: O.Adam(1e-3, clipnorm=1.0),
    "adam_global_clipnorm": lambda: O.Adam(1e-3, global_clipnorm=1.0),
    "adam_clipvalue_schedule": lambda: O.Adam(O.schedules.ExponentialDecay(1e-3, 10, 0.9),
                                              clipvalue=0.5),
    "adamw_ema": lambda: O.AdamW(use_ema=True),
    "sgd_momentum": lambda: O.SGD(0.01, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda: O.RMSprop(centered=True, momentum=0.5),
    "nadam": lambda: O.Nadam(), "adamax": lambda: O.Adamax(), "lion": lambda: O.Lion(),
    "ftrl": lambda: O.Ftrl(), "adagrad": lambda: O.Adagrad(), "adadelta": lambda: O.Adadelta(),
    "sgd_accumulation_cosine": lambda: O.SGD(O.schedules.CosineDecay(0.1, 10, warmup_target=0.2,
                                                                      warmup_steps=3),
                                             gradient_accumulation_steps=2),
    "lion_decay_ema_overwrite": lambda: O.Lion(weight_decay=0.1, use_ema=True,
                                               ema_overwrite_frequency=3),
    "nadam_piecewise": lambda: O.Nadam(O.schedules.PiecewiseConstantDecay([3, 6],
                                                                         [1e-3, 5e-4, 1e-4])),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_no_host_read_in_a_training_step(opt, device):
    model, history = _fit(device, OPTIMIZERS[opt](), batches=5)
    assert np.isfinite(history.history["loss"]).all()
    optimizer = model.optimizer  # device mode: the step count lives on the device
    assert type(optimizer._dev.it) is DeviceArray and optimizer.device_resident
    if opt == "adam":
        assert "adam" in device._kernels  # the fused update ran from its CUDA body
    per_step = READS.where("training.py:_train_epoch")
    assert not per_step, "host reads inside the training steps:\n" + _explain(per_step)
    logs = READS.where("step.py:logs")
    guard = READS.where("finite_guard.py:skipped")
    assert len(logs) == 2 * 2  # per epoch: the loss and the accuracy
    assert len(guard) == 2  # per epoch: the count of skipped steps
    others = [r for r in READS.records if r not in logs and r not in guard]
    assert not others, "host reads outside the epoch logs:\n" + _explain(others)


def _cnn():
    return [layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(), layers.Dropout(0.3), layers.Flatten(),
            layers.BatchNormalization(), layers.Dense(10, activation="softmax")]


def _lstm():
    return [layers.Input((5,), dtype="int32"), layers.Embedding(20, 6), layers.LSTM(7),
            layers.Dense(10, activation="softmax")]


def _gru():
    return [layers.Input((5, 3)), layers.GRU(7, return_sequences=True),
            layers.GlobalAveragePooling1D(), layers.Dense(10, activation="softmax")]


@pytest.mark.parametrize("make", [_cnn, _lstm, _gru], ids=["cnn", "embedding_lstm", "gru"])
def test_no_host_read_in_a_step_of_other_models(make, device):
    """Convolution, pooling, dropout, batch normalization, embedding and the recurrent
    layers' array paths (the stand-in has no fused step kernels) read nothing per step."""
    rng = np.random.default_rng(0)
    with B.device(device):
        model = gpunet.Sequential(make())
    shape = model.inputs[0].shape[1:]
    x = rng.integers(0, 20, (48, *shape)) if make is _lstm else \
        rng.normal(size=(48, *shape)).astype("float32")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.MonkeyPatch.context() as mp:
        count_np_conversions(mp)
        READS.on = True
        model.fit(x, rng.integers(0, 10, 48), batch_size=16, epochs=2, verbose=0)
        READS.on = False
    assert all(type(w.data) is DeviceArray for w in model.weights)
    per_step = READS.where("training.py:_train_epoch")
    assert not per_step, "host reads inside the training steps:\n" + _explain(per_step)
    assert len(READS.records) == 2 * (2 + 1)


def test_loss_scale_optimizer_reads_no_flag_per_step(device):
    model, _ = _fit(device, O.LossScaleOptimizer(O.Adam()), batches=3)
    per_step = READS.where("training.py:_train_epoch")
    assert not per_step, _explain(per_step)
    opt = model.optimizer
    _, scale, counter = opt._device()  # the scale and the counter live on the device
    assert type(scale) is DeviceArray and type(counter) is DeviceArray
    assert type(opt.inner_optimizer._dev.it) is DeviceArray
    assert opt.iterations == 6 and opt.step_counter == 6 and opt.dynamic_scale == 2.0 ** 15


def test_validation_reads_only_its_epoch_logs(device):
    _fit(device, OPTIMIZERS["adam"](), batches=3, validation=True)
    assert not READS.where("training.py:_train_epoch")
    val = READS.where("training.py:_validate")
    assert len(val) == 2 * 2, _explain(val)  # per epoch: val_loss and val_accuracy
    assert all(any(s.endswith("step.py:logs") for s in st) for _, st in val)
    assert len(READS.records) == 2 * (2 + 1 + 2)


def test_the_reads_do_not_grow_with_the_number_of_steps(device):
    _fit(device, OPTIMIZERS["adam"](), batches=2)
    few = len(READS.records)
    READS.records = []
    _fit(device, OPTIMIZERS["adam"](), batches=7)
    assert len(READS.records) == few == 2 * 3


def test_the_stand_in_counts_what_a_step_would_read(device, monkeypatch):
    """A read slipped into the step is caught: the counting is not vacuous."""
    from gpunet.models import step as step_mod

    real = step_mod._update

    def syncing_update(optimizer, guard, total):
        float(total.data)  # the per-step NaN check issue 10 removed
        real(optimizer, guard, total)

    monkeypatch.setattr(step_mod, "_update", syncing_update)
    with B.device(device):
        model = gpunet.Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    READS.on = True
    model.fit(np.ones((12, 4), "float32"), np.zeros((12, 2), "float32"), batch_size=4,
              epochs=1, verbose=0)
    READS.on = False
    assert [r[0] for r in READS.where("training.py:_train_epoch")] == ["__float__"] * 3
    x = device.asarray(np.arange(3.0))
    READS.records = []
    READS.on = True
    float(x.sum()), bool(x[0]), x.max().item(), device.to_numpy(x), f"{x.mean():.2f}"
    np.asarray(x)  # not patched here: a NumPy view of a subclass is made without a read
    READS.on = False
    assert [r[0] for r in READS.records] == ["__float__", "__bool__", "item", "to_numpy",
                                             "__format__"]


def test_model_to_carries_the_device_scalars_both_ways(device):
    """``model.to`` between the device and the CPU moves the optimizer between device and host
    mode with its step count, Nadam's ``u_product`` and the loss scale and counter."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5)).astype("float32"), rng.integers(0, 3, size=32)
    with B.device(device):
        model = gpunet.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
    opt = O.LossScaleOptimizer(O.Nadam(1e-2), initial_scale=4.0, dynamic_growth_steps=3)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    inner = opt.inner_optimizer
    assert type(inner._dev.it) is DeviceArray and type(inner._scalars["u_product"]) is DeviceArray
    state = (opt.iterations, opt.dynamic_scale, opt.step_counter)
    assert state == (4, 8.0, 1)
    prod = float(inner._dev.m.read(inner._scalars["u_product"]))
    model.to("cpu")
    assert inner._dev is None and opt._device() is None  # host mode on the CPU
    assert (opt.iterations, opt.dynamic_scale, opt.step_counter) == state
    assert inner._scalars["u_product"] == prod
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    state = (opt.iterations, opt.dynamic_scale, opt.step_counter)
    assert state == (8, 16.0, 2)
    model.to(device)
    assert type(inner._dev.it) is DeviceArray and type(opt._device()[1]) is DeviceArray
    assert (opt.iterations, opt.dynamic_scale, opt.step_counter) == state
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert (opt.iterations, opt.dynamic_scale, opt.step_counter) == (12, 64.0, 0)


class _TorchStyleStep(gpunet.Model):
    """Keras 3's PyTorch-style ``train_step``: ``optimizer.apply(gradients, weights)``."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        weights = list(self.trainable_weights)
        with gpunet.no_grad():
            self.optimizer.apply([v.value.grad for v in weights], weights)
        for metric in self.metrics:
            metric.update_state(loss) if metric.name == "loss" else \
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("make", [lambda: O.Adam(1e-3), lambda: O.LossScaleOptimizer(O.Adam())],
                         ids=["adam", "loss_scale_adam"])
def test_optimizer_apply_in_a_custom_step_reads_nothing(make, device):
    rng = np.random.default_rng(0)
    with B.device(device):
        inputs = gpunet.Input((6,))
        model = _TorchStyleStep(inputs, layers.Dense(3)(inputs))
    model.compile(optimizer=make(), loss="mse")
    READS.on = True
    model.fit(rng.normal(size=(24, 6)).astype("float32"),
              rng.normal(size=(24, 3)).astype("float32"), batch_size=8, epochs=1, verbose=0)
    READS.on = False
    from_optimizer = [r for r in READS.records if any("optimizers/" in s for s in r[1])]
    assert not from_optimizer, _explain(from_optimizer)
    assert model.optimizer.iterations == 3
