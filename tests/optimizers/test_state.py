"""Config round trips, state save/restore mid-way, and hyper-parameter validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpunet import optimizers
from gpunet.optimizers import schedules

VARIANTS = [
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.3}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.8}),
    ("Adam", {"learning_rate": 0.1, "amsgrad": True, "beta_2": 0.5}),
    ("AdamW", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("Adamax", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.5, "l1_regularization_strength": 0.01, "beta": 0.2}),
    ("Lion", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.7,
              "clipnorm": 1.0}),
    ("SGD", {"learning_rate": schedules.CosineDecay(0.1, 10), "momentum": 0.5,
             "gradient_accumulation_steps": 2}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)]


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=IDS)
def test_config_round_trip_gives_the_same_trajectory(name, kwargs, ref):
    gs = ref.make_grads(4)
    opt = getattr(optimizers, name)(**kwargs)
    config = json.loads(json.dumps(optimizers.serialize(opt)))  # JSON-safe
    clone = optimizers.deserialize(config)
    assert type(clone) is type(opt)
    assert clone.get_config() == opt.get_config()
    a, b = ref.make_variables(), ref.make_variables()
    ref.assert_close(ref.run(clone, b, gs), ref.run(opt, a, gs), rtol=0, atol=0)


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=IDS)
def test_state_saved_mid_way_restores_the_trajectory(name, kwargs, ref):
    gs = ref.make_grads(5)
    vs = ref.make_variables()
    opt = getattr(optimizers, name)(**kwargs)
    ref.run(opt, vs, gs[:3])
    saved_iterations = opt.iterations
    saved = [(n, a.copy()) for n, a in opt.get_slot_arrays()]
    weights = [v.data.copy() for v in vs]
    want = ref.run(opt, vs, gs[3:])

    fresh = ref.make_variables(seed=7)  # other values, overwritten below
    for v, w in zip(fresh, weights):
        v.assign(w)
    opt2 = getattr(optimizers, name).from_config(opt.get_config())
    opt2.build(fresh)
    opt2.iterations = saved_iterations
    opt2.set_slot_arrays([a for _, a in saved])
    assert [n for n, _ in opt2.get_slot_arrays()] == [n for n, _ in saved]
    ref.assert_close(ref.run(opt2, fresh, gs[3:]), want, rtol=0, atol=0)


def test_slot_order_and_names_follow_keras3(ref):
    vs = ref.make_variables()
    opt = optimizers.RMSprop(momentum=0.5, centered=True)
    opt.build(vs)
    assert [n for n, _ in opt.get_slot_arrays()] == [
        "rmsprop/dense_kernel_velocity", "rmsprop/dense_kernel_momentum",
        "rmsprop/dense_kernel_average_gradient", "rmsprop/dense_bias_velocity",
        "rmsprop/dense_bias_momentum", "rmsprop/dense_bias_average_gradient"]
    shapes = [a.shape for _, a in opt.get_slot_arrays()]
    assert shapes == [(4, 3)] * 3 + [(3,)] * 3
    assert [n for n, _ in optimizers.SGD().get_slot_arrays()] == []


def test_nadam_u_product_is_saved_and_restored(ref):
    vs = ref.make_variables()
    opt = optimizers.Nadam()
    ref.run(opt, vs, ref.make_grads(2))
    state = opt.get_slot_arrays()
    assert state[-1][0] == "nadam/u_product"
    mu = [0.9 * (1 - 0.5 * 0.96 ** t) for t in (1, 2)]
    assert float(state[-1][1]) == pytest.approx(mu[0] * mu[1], rel=1e-12)
    assert len(state) == 2 * 2 + 1
    opt.build(vs)  # a rebuild resets the state...
    assert float(opt.get_slot_arrays()[-1][1]) == 1.0
    opt.set_slot_arrays([a for _, a in state])  # ...which set_slot_arrays restores
    assert float(opt.get_slot_arrays()[-1][1]) == pytest.approx(mu[0] * mu[1], rel=1e-12)


def test_adagrad_and_ftrl_accumulators_start_at_the_initial_value(ref):
    for opt in (optimizers.Adagrad(initial_accumulator_value=0.3),
                optimizers.Ftrl(initial_accumulator_value=0.3)):
        opt.build(ref.make_variables())
        np.testing.assert_allclose(opt.get_slot_arrays()[0][1], 0.3)


def test_set_slot_arrays_checks_count_and_sizes(ref):
    opt = optimizers.Adam()
    opt.build(ref.make_variables())
    with pytest.raises(ValueError, match="expects 4 state arrays; received 1"):
        opt.set_slot_arrays([np.zeros(3)])
    with pytest.raises(ValueError, match="dense/kernel"):
        opt.set_slot_arrays([np.zeros(5), np.zeros(12), np.zeros(3), np.zeros(3)])


def test_schedule_config_is_serialised():
    opt = optimizers.Adam(schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]))
    cfg = opt.get_config()
    assert cfg["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    clone = optimizers.Adam.from_config(json.loads(json.dumps(cfg)))
    assert isinstance(clone._learning_rate, schedules.PiecewiseConstantDecay)
    assert clone.learning_rate == 0.1


BAD = [
    ("SGD", {"learning_rate": -0.1}, "learning_rate"),
    ("SGD", {"learning_rate": float("nan")}, "learning_rate"),
    ("SGD", {"learning_rate": "fast"}, "learning_rate"),
    ("SGD", {"momentum": -0.5}, "momentum"),
    ("SGD", {"momentum": 1.5}, "momentum"),
    ("RMSprop", {"rho": -0.1}, "rho"),
    ("RMSprop", {"epsilon": -1e-7}, "epsilon"),
    ("RMSprop", {"momentum": float("inf")}, "momentum"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("Adadelta", {"rho": 2.0}, "rho"),
    ("Adam", {"beta_1": -0.9}, "beta_1"),
    ("Adam", {"beta_2": 1.0}, "beta_2"),
    ("Adam", {"epsilon": float("nan")}, "epsilon"),
    ("AdamW", {"weight_decay": -0.01}, "weight_decay"),
    ("AdamW", {"weight_decay": None}, "weight_decay"),
    ("Adamax", {"beta_1": 1.5}, "beta_1"),
    ("Nadam", {"beta_2": -0.1}, "beta_2"),
    ("Ftrl", {"learning_rate_power": 0.5}, "learning_rate_power"),
    ("Ftrl", {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ("Ftrl", {"l1_regularization_strength": -1}, "l1_regularization_strength"),
    ("Ftrl", {"l2_regularization_strength": -1}, "l2_regularization_strength"),
    ("Ftrl", {"l2_shrinkage_regularization_strength": -1},
     "l2_shrinkage_regularization_strength"),
    ("Ftrl", {"beta": float("inf")}, "beta"),
    ("Lion", {"beta_1": 0.0}, "beta_1"),
    ("Lion", {"beta_2": -0.5}, "beta_2"),
    ("Adam", {"weight_decay": float("-inf")}, "weight_decay"),
    ("Adam", {"clipnorm": 0.0}, "clipnorm"),
    ("Adam", {"clipvalue": -1.0}, "clipvalue"),
    ("Adam", {"global_clipnorm": float("nan")}, "global_clipnorm"),
    ("Adam", {"ema_momentum": 1.5}, "ema_momentum"),
    ("Adam", {"use_ema": True, "ema_overwrite_frequency": 0}, "ema_overwrite_frequency"),
    ("Adam", {"loss_scale_factor": -2.0}, "loss_scale_factor"),
    ("Adam", {"gradient_accumulation_steps": 1}, "gradient_accumulation_steps"),
]


@pytest.mark.parametrize("name,kwargs,arg", BAD, ids=[f"{n}-{a}" for n, _, a in BAD])
def test_bad_hyper_parameters_are_refused_by_name(name, kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        getattr(optimizers, name)(**kwargs)


def test_unknown_argument_is_refused():
    with pytest.raises(TypeError, match="momentun"):
        optimizers.SGD(momentun=0.9)
