"""Learning-rate schedules against hand-computed values (Keras 3 formulas)."""

from __future__ import annotations

import json
import math

import pytest

from gpunet import optimizers
from gpunet.optimizers import schedules
from gpunet.registry import lookup


def _check(schedule, expected):
    for step, want in expected.items():
        assert schedule(step) == pytest.approx(want, rel=1e-12, abs=1e-15), f"step {step}"


def test_exponential_decay():
    _check(schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5),
           {0: 0.1, 5: 0.1 * 0.5 ** 0.5, 10: 0.05, 15: 0.1 * 0.5 ** 1.5, 30: 0.0125})
    _check(schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
           {0: 0.1, 9: 0.1, 10: 0.05, 19: 0.05, 25: 0.025})


def test_inverse_time_decay():
    _check(schedules.InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5),
           {0: 1.0, 1: 1 / 1.25, 2: 1 / 1.5, 4: 0.5, 7: 1 / 2.75})
    _check(schedules.InverseTimeDecay(1.0, 2, 0.5, staircase=True),
           {0: 1.0, 1: 1.0, 2: 1 / 1.5, 3: 1 / 1.5, 7: 1 / 2.5})


def test_piecewise_constant_decay():
    s = schedules.PiecewiseConstantDecay([100, 110], [1.0, 0.5, 0.1])
    _check(s, {0: 1.0, 100: 1.0, 101: 0.5, 110: 0.5, 111: 0.1, 10_000: 0.1})
    with pytest.raises(ValueError, match="1 less than"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="boundaries"):
        schedules.PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1])


def test_polynomial_decay():
    s = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01)
    _check(s, {0: 0.1, 5: 0.055, 10: 0.01, 20: 0.01})
    s = schedules.PolynomialDecay(0.1, 10, 0.01, power=0.5)
    _check(s, {0: 0.1, 5: 0.09 * math.sqrt(0.5) + 0.01, 10: 0.01})
    s = schedules.PolynomialDecay(0.1, 10, 0.0, power=2.0, cycle=True)
    # cycle: decay_steps *= ceil(step/10) (1 at step 0)
    _check(s, {0: 0.1, 5: 0.1 * 0.25, 10: 0.0, 15: 0.1 * (1 - 15 / 20) ** 2,
               25: 0.1 * (1 - 25 / 30) ** 2})


def test_cosine_decay():
    s = schedules.CosineDecay(0.2, decay_steps=10)
    _check(s, {0: 0.2, 5: 0.1, 10: 0.0, 20: 0.0, 2: 0.1 * (1 + math.cos(math.pi / 5))})
    s = schedules.CosineDecay(0.2, 10, alpha=0.1)
    _check(s, {0: 0.2, 5: 0.2 * (0.9 * 0.5 + 0.1), 10: 0.02, 50: 0.02})


def test_cosine_decay_with_warmup():
    s = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    _check(s, {0: 0.0, 1: 0.25, 3: 0.75, 4: 1.0, 9: 0.5, 14: 0.0, 100: 0.0})
    s = schedules.CosineDecay(0.1, 10, alpha=0.5, warmup_target=0.5, warmup_steps=5)
    _check(s, {0: 0.1, 2: 0.1 + 0.4 * 2 / 5, 5: 0.5, 10: 0.5 * (0.5 * 0.5 + 0.5), 15: 0.25})


def test_cosine_decay_restarts():
    s = schedules.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0, m_mul=0.5)
    _check(s, {0: 1.0, 5: 0.5, 10: 0.5, 15: 0.25, 20: 0.25, 3: 0.5 * (1 + math.cos(0.3 * math.pi))})
    # t_mul=2: periods [0,10), [10,30), [30,70)
    s = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=1.0, alpha=0.1)
    _check(s, {0: 1.0, 5: 0.9 * 0.5 + 0.1, 10: 1.0, 20: 0.9 * 0.5 + 0.1, 30: 1.0,
               50: 0.9 * 0.5 + 0.1, 25: 0.9 * 0.5 * (1 + math.cos(0.75 * math.pi)) + 0.1})
    s = schedules.CosineDecayRestarts(2.0, 4, t_mul=3.0, m_mul=0.5)
    # periods [0,4), [4,16): at step 10 the second period is half done, peak 1.0
    _check(s, {4: 1.0, 10: 0.5, 16: 0.5})


ALL = [
    schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
    schedules.InverseTimeDecay(0.1, 5, 0.3),
    schedules.PiecewiseConstantDecay([3, 7], [0.3, 0.2, 0.1]),
    schedules.PolynomialDecay(0.1, 10, 0.001, power=2.0, cycle=True),
    schedules.CosineDecay(0.0, 10, alpha=0.1, warmup_target=0.2, warmup_steps=3),
    schedules.CosineDecayRestarts(0.1, 5, t_mul=1.5, m_mul=0.7, alpha=0.05),
]


@pytest.mark.parametrize("s", ALL, ids=[type(s).__name__ for s in ALL])
def test_config_round_trip(s):
    cfg = json.loads(json.dumps(schedules.serialize(s)))
    clone = schedules.deserialize(cfg)
    assert type(clone) is type(s) and clone.get_config() == s.get_config()
    assert lookup("schedule", type(s).__name__) is type(s)
    assert [clone(i) for i in range(40)] == [s(i) for i in range(40)]
    opt = optimizers.SGD.from_config(optimizers.SGD(s).get_config())
    assert opt.learning_rate == s(0)


def test_bad_decay_steps_are_refused():
    for cls in (schedules.ExponentialDecay, schedules.InverseTimeDecay):
        with pytest.raises(ValueError, match="decay_steps"):
            cls(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.PolynomialDecay(0.1, -1)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, 0)


def test_custom_schedule_subclass_is_used_by_the_optimizer():
    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2 ** step

        def get_config(self):
            return {}

    opt = optimizers.Adam(Halving())
    assert opt.learning_rate == 1.0
    opt.iterations = 3
    assert opt.learning_rate == 0.125


def test_exported_as_gpunet_optimizers_schedules():
    import gpunet

    assert gpunet.optimizers.schedules.CosineDecay is schedules.CosineDecay
