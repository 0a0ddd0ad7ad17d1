"""Device mode: the step count, the learning rate and every per-step scalar in device memory.

On a GPU an optimizer keeps ``iterations``, its learning rate (a schedule evaluated at the
step), Adam's bias corrections, Nadam's ``u_product``... as 0-d device arrays and advances them
there. ``device_scalars=True`` forces that mode on NumPy, where it must give the same bits as
the host mode (the default on the CPU): every optimizer, schedule, clipping, EMA, weight decay
and gradient accumulation below is trained both ways and compared exactly. Reads of
``iterations`` and ``learning_rate`` keep their host types.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.optimizers import schedules
from gpunet.optimizers.scalars import DeviceMath
from gpunet.utils import set_random_seed

O = gpunet.optimizers
S = schedules

OPTIMIZERS = {
    "adam": lambda: O.Adam(1e-2),
    "adam_amsgrad_clipnorm": lambda: O.Adam(1e-2, amsgrad=True, clipnorm=0.5),
    "adam_global_clipnorm": lambda: O.Adam(1e-2, global_clipnorm=0.3),
    "adam_clipvalue_exponential": lambda: O.Adam(S.ExponentialDecay(1e-2, 3, 0.7,
                                                                    staircase=True),
                                                 clipvalue=0.05),
    "adamw_ema": lambda: O.AdamW(1e-2, weight_decay=0.05, use_ema=True, ema_momentum=0.8),
    "lamb": lambda: O.Lamb(1e-2),
    "adafactor": lambda: O.Adafactor(0.05),
    "sgd_nesterov_inverse_time": lambda: O.SGD(S.InverseTimeDecay(0.1, 2, 0.5), momentum=0.9,
                                               nesterov=True),
    "sgd_accumulation_cosine_warmup": lambda: O.SGD(
        S.CosineDecay(0.05, 8, alpha=0.1, warmup_target=0.1, warmup_steps=3),
        gradient_accumulation_steps=3),
    "adam_accumulation_ema": lambda: O.Adam(1e-2, gradient_accumulation_steps=2, use_ema=True,
                                            ema_overwrite_frequency=3),
    "rmsprop_centered_polynomial": lambda: O.RMSprop(S.PolynomialDecay(1e-2, 4, cycle=True),
                                                     centered=True, momentum=0.5),
    "nadam_piecewise": lambda: O.Nadam(S.PiecewiseConstantDecay([3, 7], [2e-2, 1e-2, 5e-3])),
    "adamax_restarts": lambda: O.Adamax(S.CosineDecayRestarts(2e-2, 3, t_mul=1.5, m_mul=0.8)),
    "lion_decay_ema_overwrite": lambda: O.Lion(1e-3, weight_decay=0.1, use_ema=True,
                                               ema_overwrite_frequency=4),
    "ftrl": lambda: O.Ftrl(0.1, l1_regularization_strength=0.01, beta=0.2),
    "adagrad_loss_scale_factor": lambda: O.Adagrad(0.1, loss_scale_factor=4.0),
    "adadelta": lambda: O.Adadelta(1.0),
    "loss_scale_adam": lambda: O.LossScaleOptimizer(O.Adam(1e-2), initial_scale=2.0 ** 6,
                                                    dynamic_growth_steps=3),
}


def _train(make, device_scalars, epochs=2, lr_change=None):
    layers.clear_session()  # the same layer names in both runs
    set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.integers(0, 3, size=40)
    model = gpunet.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                               layers.Dense(3, activation="softmax")])
    opt = make()
    opt.device_scalars = device_scalars
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    if lr_change is not None:
        opt.learning_rate = lr_change
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, opt


def _same(a, b, exact):
    if exact:
        np.testing.assert_array_equal(a, b)
    else:  # CUDA's pow/cos may differ from the C library's in the last bit
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_device_mode_gives_the_host_numbers(name, backend):
    host, h = _train(OPTIMIZERS[name], False)
    dev, d = _train(OPTIMIZERS[name], True)
    assert d.host_step_reason is None and d.device_resident
    assert "step scalars are Python numbers" in h.host_step_reason and not h.device_resident
    inner = getattr(d, "inner_optimizer", d)
    assert inner._dev is not None and backend.is_array(inner._dev.it)
    exact = backend.is_host
    for a, b in zip(dev.get_weights(), host.get_weights(), strict=True):
        _same(a, b, exact)
    for (na, a), (nb, b) in zip(d.get_slot_arrays(), h.get_slot_arrays(), strict=True):
        assert na == nb
        _same(a, b, exact)
    assert type(d.iterations) is int and d.iterations == h.iterations
    assert type(d.learning_rate) is float
    _same(d.learning_rate, h.learning_rate, exact)


def test_setting_the_learning_rate_between_fits_reaches_the_device(backend):
    """What ReduceLROnPlateau and LearningRateScheduler do: the new rate takes effect."""
    host, h = _train(OPTIMIZERS["adam"], False, lr_change=0.5)
    dev, d = _train(OPTIMIZERS["adam"], True, lr_change=0.5)
    slow, _ = _train(OPTIMIZERS["adam"], True, lr_change=None, epochs=3)
    assert d.learning_rate == 0.5 and float(d._dev.m.read(d._dev.lr)) == 0.5
    for a, b, c in zip(dev.get_weights(), host.get_weights(), slow.get_weights()):
        _same(a, b, backend.is_host)
        assert not np.allclose(a, c)


def test_mode_switch_keeps_the_state():
    """Switching a built optimizer between the modes carries iterations and scalars over."""
    model, opt = _train(lambda: O.Nadam(1e-2), False)
    prod = opt._scalars["u_product"]
    opt.device_scalars = True
    assert opt.iterations == 10 and float(opt._dev.m.read(opt._scalars["u_product"])) == prod
    opt.iterations = 4
    assert int(opt._dev.m.read(opt._dev.it)) == 4
    opt.device_scalars = False
    assert opt._dev is None and opt.iterations == 4 and opt._scalars["u_product"] == prod


# -- host_step_reason ---------------------------------------------------------------------------


class _Halving(S.LearningRateSchedule):
    def __call__(self, step):
        return 0.1 / 2 ** (step // 4)

    def get_config(self):
        return {}


class _SlowExponential(S.ExponentialDecay):
    """A subclass that keeps the built-in ``__call__``: still evaluated on the device."""


def _built(opt, device_scalars=True):
    v = gpunet.Variable(np.ones((3, 2), "float32"), name="k")
    opt.device_scalars = device_scalars
    opt.build([v])
    return opt, v


def test_host_step_reason_names_what_needs_the_host():
    assert O.SGD().host_step_reason == "the optimizer is not built yet"
    assert "host memory (numpy backend)" in _built(O.SGD(), None)[0].host_step_reason
    assert _built(O.SGD(), None)[0]._dev is None  # the NumPy default: host mode
    assert _built(O.SGD(_SlowExponential(0.1, 3, 0.5)))[0].device_resident
    reason = _built(O.SGD(lambda: 0.01))[0].host_step_reason
    assert "Python callable" in reason and "every step" in reason
    reason = _built(O.SGD(_Halving()))[0].host_step_reason
    assert "_Halving defines its own __call__" in reason
    lso = O.LossScaleOptimizer(O.SGD(lambda: 0.01))
    _built(lso)
    assert "Python callable" in lso.host_step_reason and not lso.device_resident


@pytest.mark.parametrize("lr", [lambda: 0.03, lambda step: 0.1 / (1 + step), _Halving()],
                         ids=["callable", "callable_of_step", "custom_schedule"])
def test_host_evaluated_learning_rates_still_give_the_host_numbers(lr, backend):
    host, _ = _train(lambda: O.SGD(lr, momentum=0.5), False)
    dev, d = _train(lambda: O.SGD(lr, momentum=0.5), True)
    assert not d.device_resident
    for a, b in zip(dev.get_weights(), host.get_weights()):
        _same(a, b, backend.is_host)


# -- schedules ----------------------------------------------------------------------------------

SCHEDULES = [
    S.ExponentialDecay(0.1, 7, 0.6), S.ExponentialDecay(0.1, 4, 0.5, staircase=True),
    S.InverseTimeDecay(0.2, 3, 0.7), S.InverseTimeDecay(0.2, 3, 0.7, staircase=True),
    S.PiecewiseConstantDecay([4, 9, 15], [0.5, 0.2, 0.1, 0.05]),
    S.PiecewiseConstantDecay([], [0.3]),
    S.PolynomialDecay(0.1, 10, 0.01, power=0.5), S.PolynomialDecay(0.1, 6, cycle=True),
    S.CosineDecay(0.1, 20, alpha=0.05), S.CosineDecay(0.0, 12, warmup_target=0.1,
                                                       warmup_steps=5),
    S.CosineDecay(0.1, 12, warmup_target=0.2, warmup_steps=0),
    S.CosineDecayRestarts(0.1, 5), S.CosineDecayRestarts(0.1, 4, t_mul=1.0, m_mul=0.5),
]


@pytest.mark.parametrize("schedule", SCHEDULES,
                         ids=[f"{type(s).__name__}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedules_on_a_device_step_give_the_host_values(schedule, fake_cupy):
    from gpunet.backend import numpy_backend

    numpy_math, device_math = DeviceMath(numpy_backend()), DeviceMath(fake_cupy)
    for step in range(40):
        want = schedule(step)
        assert type(want) in (float, int)
        got = schedule._value(np.array(float(step)), numpy_math)
        assert float(got) == want, (step, float(got), want)  # the same C library calls
        assert float(schedule(np.array(float(step)))) == want  # a 0-d array: device path
        close = schedule._value(np.array(float(step)), device_math)  # NumPy's own power/cos
        assert math.isclose(float(close), want, rel_tol=1e-13, abs_tol=1e-16), step


@pytest.mark.parametrize("schedule", SCHEDULES,
                         ids=[f"{type(s).__name__}-{i}" for i, s in enumerate(SCHEDULES)])
def test_a_traced_schedule_kernel_gives_the_host_values(schedule):
    """On a GPU a built-in schedule is one kernel traced from its formula; its body, run by
    the emulator, gives the host values (NumPy's own pow/cos/log: within 1e-13)."""
    from gpunet.optimizers.traced import schedule_spec

    from .conftest import FakeCupyModule

    spec = schedule_spec(schedule)
    assert spec is not None and spec.operation.startswith("lr = ")
    assert schedule_spec(schedule) is spec  # one spec per formula
    kernel = spec.build(FakeCupyModule)
    for step in range(40):
        out = np.zeros(1)
        kernel(np.array([step], np.int64), out)
        assert math.isclose(out[0], schedule(step), rel_tol=1e-13, abs_tol=1e-16), step


def test_a_device_optimizer_runs_its_schedule_as_one_kernel(fake_cupy):
    rng = np.random.default_rng(0)
    v = gpunet.Variable(rng.normal(size=(5,)).astype("float32"), name="k")
    sched = S.CosineDecay(0.05, 6, warmup_target=0.1, warmup_steps=2)
    opt, host = O.SGD(sched, momentum=0.5), O.SGD(sched, momentum=0.5)
    opt.build([v])
    opt._groups[0].backend = fake_cupy
    opt.build([v])
    w = gpunet.Variable(v.data.copy(), name="k")
    for _ in range(8):
        g = rng.normal(size=5).astype("float32")
        opt.apply_gradients([(g, v)])
        host.apply_gradients([(g, w)])
    assert [k for k in fake_cupy.kernels if k.startswith("schedule_")]
    np.testing.assert_allclose(v.data, w.data, rtol=1e-6, atol=1e-7)
    assert opt.iterations == 8 and math.isclose(opt.learning_rate, host.learning_rate)
    sched.warmup_target = 0.5  # a changed schedule takes effect: the kernel is made again
    before = v.data.copy()
    g = rng.normal(size=5).astype("float32")
    opt.apply_gradients([(g, v)])
    host.apply_gradients([(g, w)])
    np.testing.assert_allclose(v.data, w.data, rtol=1e-6, atol=1e-7)
    assert not np.allclose(v.data, before)
    assert len([k for k in fake_cupy.kernels if k.startswith("schedule_")]) == 2


# -- LossScaleOptimizer -------------------------------------------------------------------------


def _lso_run(device_scalars, backend, steps, kernels_on=None):
    rng = np.random.default_rng(4)
    vs = [gpunet.Variable(backend.asarray(rng.normal(size=(4, 3)).astype("float32")),
                          name="k", path="d/k"),
          gpunet.Variable(backend.asarray(rng.normal(size=(3,)).astype("float32")), name="b",
                          path="d/b")]
    opt = O.LossScaleOptimizer(O.Nadam(0.05, use_ema=True), initial_scale=8.0,
                               dynamic_growth_steps=2)
    opt.device_scalars = device_scalars
    if kernels_on is not None:  # the CuPy code path, its kernels run by the emulator
        opt.build(vs)
        for g in opt.inner_optimizer._groups:
            g.backend = kernels_on
        opt.build(vs)
    seen = []
    for bad in steps:
        gs = [rng.normal(size=(4, 3)).astype("float32") * 8, rng.normal(size=3).astype("f4")]
        if bad:
            gs[bad - 1].flat[0] = np.inf if bad == 1 else np.nan
        opt.apply_gradients(zip(gs, vs))
        seen.append((opt.iterations, opt.dynamic_scale, opt.step_counter))
    return vs, opt, seen


def test_loss_scale_skips_on_the_device_as_on_the_host(backend):
    """Non-finite steps are skipped (weights, slots, u_product and the inner iterations kept),
    the scale halves; good steps grow it: both modes agree at every step, as Keras counts."""
    steps = [0, 1, 0, 0, 2, 0, 0, 0, 1, 1, 0]
    hv, h, host_seen = _lso_run(False, backend, steps)
    dv, d, dev_seen = _lso_run(True, backend, steps)
    assert d.inner_optimizer._dev is not None and backend.is_array(d._device()[1])
    assert dev_seen == host_seen
    assert host_seen[:5] == [(1, 8.0, 1), (1, 4.0, 0), (2, 4.0, 1), (3, 8.0, 0), (3, 4.0, 0)]
    assert h.iterations == 7 and d.iterations == 7
    for a, b in zip(dv, hv):
        _same(backend.to_numpy(a.data), backend.to_numpy(b.data), backend.is_host)
    for (_, a), (_, b) in zip(d.get_slot_arrays(), h.get_slot_arrays(), strict=True):
        _same(a, b, backend.is_host)


def test_loss_scale_kernels_skip_and_rescale_as_the_host_does(fake_cupy):
    """On a GPU the unscaling and the scale update are kernels (run here by the emulator):
    the same skips, scales and counters as the host, the same weights within float noise."""
    from gpunet.backend import numpy_backend

    steps = [0, 1, 0, 0, 2, 0, 0, 0, 1, 1, 0]
    hv, h, host_seen = _lso_run(False, numpy_backend(), steps)
    dv, d, dev_seen = _lso_run(True, numpy_backend(), steps, kernels_on=fake_cupy)
    assert d.inner_optimizer._dev.m.kernels
    assert {"loss_unscale", "loss_scale_update", "nadam_coefficients"} <= set(fake_cupy.kernels)
    assert fake_cupy.kernels["loss_scale_update"].calls == len(steps)
    assert dev_seen == host_seen
    for a, b in zip(dv, hv):  # the fused update's order of operations: float32 noise
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-5)


def test_loss_scale_state_round_trip_in_device_mode():
    _, d, _ = _lso_run(True, gpunet.backend.numpy_backend(), [0, 1, 0])
    state = [a for _, a in d.get_slot_arrays()]
    assert state[0].dtype == np.int64 and state[1].dtype == np.float32
    _, again, _ = _lso_run(True, gpunet.backend.numpy_backend(), [0])
    again.set_slot_arrays(state)
    again.iterations = d.iterations
    assert (again.step_counter, again.dynamic_scale, again.iterations) == \
        (d.step_counter, d.dynamic_scale, d.iterations)
    assert again.scale_loss(3.0) == 3.0 * d.dynamic_scale


# -- saving -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_saved_and_loaded_state_continues_identically(ext, tmp_path, backend):
    make = OPTIMIZERS["nadam_piecewise"]
    model, opt = _train(make, True)
    model.save(tmp_path / f"m.{ext}")
    loaded = gpunet.models.load_model(tmp_path / f"m.{ext}")
    assert loaded.optimizer.iterations == opt.iterations == 10
    for (_, a), (_, b) in zip(loaded.optimizer.get_slot_arrays(), opt.get_slot_arrays()):
        np.testing.assert_array_equal(a, b)
    host, _ = _train(make, False, epochs=3)
    loaded.optimizer.device_scalars = True
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 3, size=40)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert loaded.optimizer._dev is not None and loaded.optimizer.iterations == 15
    for a, b in zip(loaded.get_weights(), host.get_weights()):
        _same(a, b, backend.is_host)


def _mixed_fit(device_scalars):
    from gpunet import mixed_precision

    mixed_precision.set_global_policy("mixed_float16")
    try:
        layers.clear_session()
        set_random_seed(5)
        rng = np.random.default_rng(1)
        x = (rng.normal(size=(48, 6)) * 30).astype("float32")
        y = rng.integers(0, 3, size=48)
        model = gpunet.Sequential([layers.Input((6,)), layers.Dense(16, activation="relu"),
                                   layers.Dense(3, activation="softmax")])
        model.compile(optimizer=O.Adam(1e-2), loss="sparse_categorical_crossentropy")
        model.optimizer.device_scalars = device_scalars
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    finally:
        mixed_precision.set_global_policy("float32")
    return model, model.optimizer


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the float16 steps that overflow
def test_mixed_float16_loss_scaling_in_both_modes():
    """``compile`` under ``mixed_float16`` wraps the optimizer in a LossScaleOptimizer; with
    the scale on the device it trains as on the host, overflowing steps skipped alike."""
    host, h = _mixed_fit(False)
    dev, d = _mixed_fit(True)
    assert isinstance(d, O.LossScaleOptimizer) and d.inner_optimizer._dev is not None
    assert (d.iterations, d.dynamic_scale, d.step_counter) == \
        (h.iterations, h.dynamic_scale, h.step_counter)
    assert h.iterations < 12 and h.dynamic_scale < 2.0 ** 15  # some steps overflowed
    for a, b in zip(dev.get_weights(), host.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- callbacks ----------------------------------------------------------------------------------


def test_backup_and_restore_resumes_a_device_mode_optimizer(tmp_path):
    """BackupAndRestore reads ``iterations``/``learning_rate`` and sets them back on a fresh
    device-mode optimizer: the resumed run ends on the uninterrupted host-mode weights."""
    from gpunet.callbacks import BackupAndRestore, LambdaCallback

    def make(device_scalars):
        layers.clear_session()
        set_random_seed(2)
        m = gpunet.Sequential([layers.Input((4,)), layers.Dense(3), layers.Dense(1)])
        opt = O.Adam(S.ExponentialDecay(0.05, 3, 0.8))
        opt.device_scalars = device_scalars
        m.compile(optimizer=opt, loss="mse")
        return m

    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True).astype("float32")
    kw = {"batch_size": 2, "shuffle": False, "verbose": 0}
    ref = make(False)
    ref.fit(x, y, epochs=4, **kw)

    def stop(epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")

    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        make(True).fit(x, y, epochs=4, callbacks=[BackupAndRestore(backup),
                                                  LambdaCallback(on_epoch_begin=stop)], **kw)
    fresh = make(True)
    history = fresh.fit(x, y, epochs=4, callbacks=[BackupAndRestore(backup)], **kw)
    assert history.epoch == [2, 3] and fresh.optimizer._dev is not None
    assert fresh.optimizer.iterations == ref.optimizer.iterations == 16
    for a, b in zip(fresh.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [lambda: O.Nadam(0.05, weight_decay=0.1),
                                  lambda: O.Lamb(0.05, global_clipnorm=0.5),
                                  lambda: O.Adafactor(0.1, use_ema=True)],
                         ids=["nadam_decay", "lamb_global_clipnorm", "adafactor_ema"])
def test_float32_and_float64_groups_share_the_device_scalars(make):
    """One float64 device scalar per step value, rounded to each group's dtype as a Python
    float would be: a float32 and a float64 group train as in host mode."""
    def run(device_scalars):
        rng = np.random.default_rng(0)
        vs = [gpunet.Variable(rng.normal(size=(4, 3)).astype(dt), name=f"k{i}", path=f"d/k{i}")
              for i, dt in enumerate(("float32", "float64"))]
        opt = make()
        opt.device_scalars = device_scalars
        for _ in range(4):
            opt.apply_gradients([(rng.normal(size=v.shape).astype(v.dtype), v) for v in vs])
        return vs, opt

    (hv, h), (dv, d) = run(False), run(True)
    assert len(d._groups) == 2 and d._dev is not None
    for a, b in zip(dv, hv):
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)
    for (_, a), (_, b) in zip(d.get_slot_arrays(), h.get_slot_arrays(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("device_scalars", [False, True], ids=["host", "device"])
def test_masked_step_skips_where_the_flag_is_false(device_scalars):
    opt, v = _built(O.Adam(0.1, use_ema=True), device_scalars)
    v.grad[...] = 1.0
    before = (v.data.copy(), [a.copy() for _, a in opt.get_slot_arrays()])
    opt.masked_step(np.array(False))
    assert opt.iterations == 0
    np.testing.assert_array_equal(v.data, before[0])
    for (_, a), b in zip(opt.get_slot_arrays(), before[1], strict=True):
        np.testing.assert_array_equal(a, b)
    opt.masked_step(np.array(True))
    assert opt.iterations == 1 and not np.array_equal(v.data, before[0])
