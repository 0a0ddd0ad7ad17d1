"""Clipping, weight decay, EMA, accumulation, loss scaling, constraints and learning rates."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gpunet import constraints, optimizers
from gpunet.autograd.variable import Variable
from gpunet.optimizers import schedules


def _sgd_steps(ref, grads, **kwargs):
    vs = ref.make_variables()
    init = [v.data.astype(np.float64) for v in vs]
    opt = optimizers.SGD(1.0, **kwargs)
    for gs in grads:
        opt.apply_gradients(zip([np.asarray(g, np.float32) for g in gs], vs))
    return opt, vs, init


def test_clipnorm_clips_each_tensor(ref):
    k = np.full((4, 3), 1.0)  # norm √12 ≈ 3.46 → clipped to 2
    b = np.array([0.3, -0.4, 0.0])  # norm 0.5 → unchanged
    _, vs, init = _sgd_steps(ref, [[k, b]], clipnorm=2.0)
    np.testing.assert_allclose(vs[0].data, init[0] - k * 2.0 / math.sqrt(12), rtol=1e-6)
    np.testing.assert_allclose(vs[1].data, init[1] - b, rtol=1e-6)


def test_clipnorm_of_zero_gradient_is_zero(ref):
    _, vs, init = _sgd_steps(ref, [[np.zeros((4, 3)), np.zeros(3)]], clipnorm=1.0)
    np.testing.assert_array_equal(vs[0].data, init[0].astype(np.float32))


def test_clipvalue_clips_elements(ref):
    k = np.linspace(-2, 2, 12).reshape(4, 3)
    b = np.array([5.0, -0.1, 0.2])
    _, vs, init = _sgd_steps(ref, [[k, b]], clipvalue=0.5)
    np.testing.assert_allclose(vs[0].data, init[0] - np.clip(k, -0.5, 0.5), rtol=1e-6)
    np.testing.assert_allclose(vs[1].data, init[1] - np.clip(b, -0.5, 0.5), rtol=1e-6)


def test_global_clipnorm_scales_all_gradients_jointly(ref):
    k = np.full((4, 3), 1.0)
    b = np.array([2.0, 2.0, 0.0])
    norm = math.sqrt(12 + 8)
    _, vs, init = _sgd_steps(ref, [[k, b]], global_clipnorm=1.0)
    np.testing.assert_allclose(vs[0].data, init[0] - k / norm, rtol=1e-6)
    np.testing.assert_allclose(vs[1].data, init[1] - b / norm, rtol=1e-6)
    _, vs, init = _sgd_steps(ref, [[k, b]], global_clipnorm=100.0)  # below the limit
    np.testing.assert_allclose(vs[1].data, init[1] - b, rtol=1e-6)


def test_global_clipnorm_turns_non_finite_norm_into_nan(ref):
    k = np.full((4, 3), 1.0)
    k[0, 0] = np.inf
    _, vs, _ = _sgd_steps(ref, [[k, np.ones(3)]], global_clipnorm=1.0)
    assert np.isnan(vs[0].data).all() and np.isnan(vs[1].data).all()


def test_global_clipnorm_spans_dtype_groups():
    a = Variable(np.ones(3, np.float32), name="a")
    b = Variable(np.ones(4, np.float64), name="b")
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    opt.apply_gradients([(np.full(3, 3.0, np.float32), a), (np.full(4, 4.0), b)])
    assert len(opt._groups) == 2
    norm = math.sqrt(27 + 64)
    np.testing.assert_allclose(a.data, 1 - 3 / norm, rtol=1e-6)
    np.testing.assert_allclose(b.data, 1 - 4 / norm, rtol=1e-12)


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="Only one of `clipnorm`"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="global_clipnorm=2"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=2)


def test_weight_decay_is_decoupled_and_before_the_update(ref):
    gs = ref.make_grads(2)
    lr, wd = 0.1, 0.2
    vs = ref.make_variables()
    w = [v.data.astype(np.float64) for v in vs]
    opt = optimizers.SGD(lr, momentum=0.5, weight_decay=wd)
    ref.run(opt, vs, gs)
    states = [{}, {}]
    for t, g in enumerate(gs, 1):
        w = [ref.REFS["SGD"](wi - lr * wd * wi, gi, s, t, lr, momentum=0.5)
             for wi, gi, s in zip(w, g, states)]
    ref.assert_close([[v.data for v in vs]], [w])


@pytest.mark.parametrize("how", ["var_names", "var_list", "after_build"])
def test_exclude_from_weight_decay(ref, how):
    gs = ref.make_grads(2)
    vs = ref.make_variables()
    init = [v.data.copy() for v in vs]
    opt = optimizers.AdamW(0.1, weight_decay=0.3)
    if how == "var_names":
        opt.exclude_from_weight_decay(var_names=["bia"])
    elif how == "var_list":
        opt.exclude_from_weight_decay(var_list=[vs[1]])
    else:
        opt.build(vs)
    if how == "after_build":
        opt.exclude_from_weight_decay(var_names=["bias"])
    got = ref.run(opt, vs, gs)
    want = ref.reference_trajectory("AdamW", {"learning_rate": 0.1, "weight_decay": 0.3},
                                    init, gs, exclude=(1,))
    ref.assert_close(got, want)


def test_weight_decay_with_everything_excluded(ref):
    gs = ref.make_grads(1)
    vs = ref.make_variables()
    init = [v.data.copy() for v in vs]
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["kernel", "bias"])
    got = ref.run(opt, vs, gs)
    ref.assert_close(got, ref.reference_trajectory("SGD", {"learning_rate": 0.1}, init, gs))


def _ema_reference(ref, gs, lr, momentum, frequency=None):
    vs = ref.make_variables()
    w = [v.data.astype(np.float64) for v in vs]
    avg = None
    history = []
    for t, g in enumerate(gs, 1):
        w = [wi - lr * gi for wi, gi in zip(w, g)]
        m = 0.0 if t == 1 else momentum
        avg = [m * (a if avg else 0) + (1 - m) * wi for a, wi in
               zip(avg or [0] * len(w), w)]
        if frequency and t % frequency == 0:
            w = [a.copy() for a in avg]
        history.append(([x.copy() for x in w], [a.copy() for a in avg]))
    return history


def test_ema_average_and_finalize(ref):
    gs = ref.make_grads(3)
    vs = ref.make_variables()
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.8)
    ref.run(opt, vs, gs)
    want = _ema_reference(ref, gs, 0.1, 0.8)
    ref.assert_close([[v.data for v in vs]], [want[-1][0]])  # weights untouched until finalize
    names = [n for n, _ in opt.get_slot_arrays()]
    assert names == ["SGD/dense_kernel_average", "SGD/dense_bias_average"]
    opt.finalize_variable_values(vs)
    ref.assert_close([[v.data for v in vs]], [want[-1][1]])


def test_ema_overwrite_frequency(ref):
    gs = ref.make_grads(5)
    vs = ref.make_variables()
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    got = ref.run(opt, vs, gs)
    want = _ema_reference(ref, gs, 0.1, 0.5, frequency=2)
    ref.assert_close(got, [w for w, _ in want])


def test_finalize_before_any_step_keeps_the_weights(ref):
    vs = ref.make_variables()
    init = [v.data.copy() for v in vs]
    opt = optimizers.Adam(use_ema=True)
    opt.build(vs)
    opt.finalize_variable_values(vs)
    ref.assert_close([[v.data for v in vs]], [init], rtol=0, atol=0)


def test_gradient_accumulation_updates_every_n_steps_with_the_mean(ref):
    gs = ref.make_grads(4)
    vs = ref.make_variables()
    init = [v.data.copy() for v in vs]
    opt = optimizers.Adam(0.1, gradient_accumulation_steps=2)
    got = ref.run(opt, vs, gs)
    assert opt.iterations == 4
    ref.assert_close([got[0]], [init], rtol=0, atol=0)  # no update on the first call
    mean = [[(a + b) / 2 for a, b in zip(gs[0], gs[1])], [(a + b) / 2 for a, b in
                                                          zip(gs[2], gs[3])]]
    want = ref.reference_trajectory("Adam", {"learning_rate": 0.1}, init, mean)
    ref.assert_close([got[1], got[3]], want)


def test_loss_scale_factor_unscales_gradients(ref):
    gs = ref.make_grads(1)
    vs = ref.make_variables()
    init = [v.data.copy() for v in vs]
    opt = optimizers.SGD(0.1, loss_scale_factor=8.0)
    assert opt.scale_loss(2.0) == 16.0
    got = ref.run(opt, vs, [[g * 8 for g in gs[0]]])
    ref.assert_close(got, ref.reference_trajectory("SGD", {"learning_rate": 0.1}, init, gs))


def test_constraints_apply_after_the_update():
    v = Variable(np.array([0.5, -0.5, 1.0], np.float32), name="k",
                 constraint=constraints.get("non_neg"))
    opt = optimizers.SGD(1.0)
    opt.apply_gradients([(np.array([1.0, -1.0, 0.5], np.float32), v)])
    np.testing.assert_allclose(v.data, [0.0, 0.5, 0.5])


def test_schedule_is_evaluated_at_iterations(ref):
    gs = ref.make_grads(3)
    vs = ref.make_variables()
    w = [v.data.astype(np.float64) for v in vs]
    sched = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(sched)
    ref.run(opt, vs, gs)
    for step, g in enumerate(gs):
        w = [wi - 0.1 * 0.5 ** step * gi for wi, gi in zip(w, g)]
    ref.assert_close([[v.data for v in vs]], [w])
    assert opt.learning_rate == pytest.approx(0.1 * 0.5 ** 3)


def test_callable_learning_rates():
    assert optimizers.SGD(lambda: 0.25).learning_rate == 0.25
    opt = optimizers.SGD(lambda step: 0.1 / (step + 1))
    v = Variable(np.ones(2, np.float32), name="v")
    opt.apply_gradients([(np.ones(2, np.float32), v)])
    opt.apply_gradients([(np.ones(2, np.float32), v)])
    np.testing.assert_allclose(v.data, 1 - 0.1 - 0.05, rtol=1e-6)
    assert opt.learning_rate == pytest.approx(0.1 / 3)


def test_learning_rate_setter():
    opt = optimizers.Adam()
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.lr == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
    sched = optimizers.SGD(schedules.InverseTimeDecay(0.1, 1, 1.0))
    with pytest.raises(TypeError, match="schedule"):
        sched.learning_rate = 0.1


def test_keras2_lr_spelling_warns():
    with pytest.warns(DeprecationWarning, match="`lr`"):
        opt = optimizers.RMSprop(lr=0.02)
    assert opt.learning_rate == 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert optimizers.get({"class_name": "SGD", "config": {"lr": 0.3}}).learning_rate == 0.3
    with pytest.warns(UserWarning, match="decay"):
        optimizers.Adam(decay=1e-6)


@pytest.mark.parametrize("name,cls", [
    ("rmsprop", "RMSprop"), ("RMSprop", "RMSprop"), ("Adam", "Adam"), ("adam", "Adam"),
    ("sgd", "SGD"), ("SGD", "SGD"), ("adamw", "AdamW"), ("AdamW", "AdamW"), ("nadam", "Nadam"),
    ("ftrl", "Ftrl"), ("lion", "Lion"), ("adagrad", "Adagrad"), ("adadelta", "Adadelta"),
    ("adamax", "Adamax"), ("ADAMAX", "Adamax")])
def test_names_are_case_insensitive(name, cls):
    assert type(optimizers.get(name)).__name__ == cls


def test_keras3_defaults():
    assert optimizers.SGD().learning_rate == 0.01
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == \
        (0.001, 0.9, 0.0, 1e-7, False)
    assert optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.Adadelta().rho == 0.95
    assert optimizers.AdamW().weight_decay == 0.004
    assert (optimizers.Lion().beta_1, optimizers.Lion().beta_2) == (0.9, 0.99)
    f = optimizers.Ftrl()
    assert (f.learning_rate_power, f.initial_accumulator_value, f.beta) == (-0.5, 0.1, 0.0)
    assert [optimizers.get(n).name for n in ("sgd", "adam", "nadam", "rmsprop")] == \
        ["SGD", "adam", "nadam", "rmsprop"]


def test_apply_without_variables_needs_a_build(ref):
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="build"):
        opt.apply([np.ones(3)])
    vs = ref.make_variables()
    opt.build(vs)
    init = vs[1].data.copy()
    opt.apply([np.zeros((4, 3), np.float32), np.ones(3, np.float32)])
    np.testing.assert_allclose(vs[1].data, init - 0.1, rtol=1e-6)


def test_missing_gradients(ref):
    vs = ref.make_variables()
    with pytest.raises(ValueError, match="No gradients"):
        optimizers.SGD().apply_gradients([(None, vs[0]), (None, vs[1])])
    with pytest.warns(UserWarning, match="dense/bias"):
        optimizers.SGD().apply_gradients([(np.ones((4, 3), np.float32), vs[0]),
                                          (None, vs[1])])


def test_variables_without_gradient_keep_their_weights_and_state(ref):
    gs = ref.make_grads(3)
    vs = ref.make_variables()
    opt = optimizers.Adam(0.1, weight_decay=0.1)
    opt.apply_gradients(zip([np.float32(g) for g in gs[0]], vs))
    bias, slots = vs[1].data.copy(), [a.copy() for _, a in opt.get_slot_arrays()]
    with pytest.warns(UserWarning, match="dense/bias"):
        opt.apply_gradients([(np.float32(gs[1][0]), vs[0]), (None, vs[1])])
    np.testing.assert_array_equal(vs[1].data, bias)
    after = [a for _, a in opt.get_slot_arrays()]
    np.testing.assert_array_equal(after[2], slots[2])  # bias momentum
    np.testing.assert_array_equal(after[3], slots[3])  # bias velocity
    assert not np.array_equal(after[0], slots[0])  # the kernel moved on
    opt.apply([np.float32(g) for g in gs[2]])  # both again: no rebuild, state kept
    assert opt.iterations == 3
