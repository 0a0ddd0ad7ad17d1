"""Initializers: fans, distribution statistics against Keras's formulas, seeds, configs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpunet
from gpunet import initializers as I
from gpunet.backend import floatx

TRUNC = 0.87962566103423978  # std of a unit normal truncated to ±2


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((3, 4), (3, 4)), ((5, 4, 3), (20, 15)),
    ((3, 3, 2, 8), (18, 72)), ((2, 2, 2, 4, 6), (32, 48)),
], ids=str)
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def _stats(v):
    return float(v.mean()), float(v.std()), float(v.min()), float(v.max())


DENSE, CONV = (300, 500), (3, 3, 32, 64)  # conv: fan_in 288, fan_out 576


@pytest.mark.parametrize("name,shape,kind,scale,mode", [
    ("glorot_uniform", DENSE, "uniform", 1.0, "fan_avg"),
    ("glorot_uniform", CONV, "uniform", 1.0, "fan_avg"),
    ("glorot_normal", DENSE, "truncated", 1.0, "fan_avg"),
    ("glorot_normal", CONV, "truncated", 1.0, "fan_avg"),
    ("he_normal", DENSE, "truncated", 2.0, "fan_in"),
    ("he_normal", CONV, "truncated", 2.0, "fan_in"),
    ("he_uniform", DENSE, "uniform", 2.0, "fan_in"),
    ("he_uniform", CONV, "uniform", 2.0, "fan_in"),
    ("lecun_normal", DENSE, "truncated", 1.0, "fan_in"),
    ("lecun_uniform", CONV, "uniform", 1.0, "fan_in"),
])
def test_variance_scaling_family_statistics(name, shape, kind, scale, mode):
    fan_in, fan_out = I.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    v = I.get(name)(shape)
    assert v.shape == shape and v.dtype == np.dtype(floatx())
    mean, std, lo, hi = _stats(v.astype("float64"))
    target_std = math.sqrt(scale / n)  # both forms aim at this post-sampling std
    assert abs(mean) < 4 * target_std / math.sqrt(v.size)
    assert std == pytest.approx(target_std, rel=0.02)
    if kind == "uniform":
        limit = math.sqrt(3 * scale / n)  # glorot: sqrt(6 / (fan_in + fan_out))
        assert -limit <= lo and hi <= limit
        assert hi > 0.99 * limit and lo < -0.99 * limit
    else:
        sigma = target_std / TRUNC  # the pre-truncation stddev; draws beyond 2 sigma re-drawn
        assert -2 * sigma <= lo and hi <= 2 * sigma
        assert hi > 1.95 * sigma and lo < -1.95 * sigma


def test_glorot_uniform_limit_by_hand():
    v = I.GlorotUniform(seed=1)((10, 20))
    assert np.abs(v).max() <= math.sqrt(6 / 30)


def test_variance_scaling_modes_and_untruncated_normal():
    v = I.VarianceScaling(scale=3.0, mode="fan_out", distribution="untruncated_normal",
                          seed=0)((200, 800))
    assert v.std() == pytest.approx(math.sqrt(3.0 / 800), rel=0.02)
    assert np.abs(v).max() > 3 * math.sqrt(3.0 / 800)  # not truncated
    small = I.VarianceScaling(mode="fan_in", distribution="uniform", seed=0)((0, 4))
    assert small.shape == (0, 4)  # fans floored at 1: no division by zero
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"  # K2


@pytest.mark.parametrize("init,mean,std,lo,hi", [
    (I.RandomNormal(), 0.0, 0.05, None, None),
    (I.RandomNormal(mean=1.0, stddev=2.0), 1.0, 2.0, None, None),
    (I.RandomUniform(), 0.0, 0.1 / math.sqrt(12), -0.05, 0.05),
    (I.RandomUniform(minval=-1.0, maxval=3.0), 1.0, 4 / math.sqrt(12), -1.0, 3.0),
    (I.TruncatedNormal(), 0.0, 0.05 * TRUNC, -0.1, 0.1),
    (I.TruncatedNormal(mean=0.5, stddev=0.1), 0.5, 0.1 * TRUNC, 0.3, 0.7),
], ids=["normal", "normal_args", "uniform", "uniform_args", "truncated", "truncated_args"])
def test_plain_distributions(init, mean, std, lo, hi):
    v = init((400, 500)).astype("float64")
    m, s, vmin, vmax = _stats(v)
    assert m == pytest.approx(mean, abs=4 * std / math.sqrt(v.size))
    assert s == pytest.approx(std, rel=0.02)
    if lo is not None:
        assert lo <= vmin and vmax <= hi
        span = hi - lo
        assert vmin < lo + 0.01 * span and vmax > hi - 0.01 * span


def test_constants_and_dtype():
    assert not I.Zeros()((2, 3)).any()
    assert (I.Ones()((4,)) == 1).all()
    np.testing.assert_array_equal(I.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    assert I.get("zeros")((2,), "float64").dtype == np.float64
    assert I.Constant(1)((1,)).dtype == np.dtype(floatx())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 8), (5, 5)], ids=str)
def test_orthogonal_is_orthogonal(shape):
    rows, cols = math.prod(shape[:-1]), shape[-1]
    for gain in (1.0, 2.0):
        q = I.Orthogonal(gain=gain, seed=3)(shape, "float64").reshape(rows, cols)
        gram = q.T @ q if rows >= cols else q @ q.T
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-10)


def test_identity():
    np.testing.assert_array_equal(I.Identity()((3, 3)), np.eye(3))
    np.testing.assert_array_equal(I.Identity(gain=2.0)((2, 4)), 2 * np.eye(2, 4))
    np.testing.assert_array_equal(I.get("identity")((4, 2)), np.eye(4, 2))


def test_seeded_initializers_are_reproducible():
    a = I.GlorotUniform(seed=7)
    np.testing.assert_array_equal(a((5, 6)), a((5, 6)))  # same instance, same values
    np.testing.assert_array_equal(a((5, 6)), I.GlorotUniform(seed=7)((5, 6)))
    assert not np.array_equal(a((5, 6)), I.GlorotUniform(seed=8)((5, 6)))
    for cls in (I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.HeNormal, I.Orthogonal,
                I.LecunUniform):
        np.testing.assert_array_equal(cls(seed=1)((4, 4)), cls(seed=1)((4, 4)))


def test_unseeded_initializers_follow_the_global_seed():
    gpunet.utils.set_random_seed(11)
    first = [I.GlorotUniform()((3, 3)), I.RandomNormal()((3,)), I.Orthogonal()((3, 3))]
    assert not np.array_equal(first[0], I.GlorotUniform()((3, 3)))  # draws differ
    gpunet.utils.set_random_seed(11)
    again = [I.GlorotUniform()((3, 3)), I.RandomNormal()((3,)), I.Orthogonal()((3, 3))]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_set_random_seed_gives_the_same_weights_on_a_rebuilt_model():
    from gpunet.layers import Dense, Input

    def build():
        model = gpunet.Sequential([Input((4,)), Dense(8, activation="relu"),
                                   Dense(3, kernel_initializer="he_normal",
                                         bias_initializer="random_normal")])
        return model.get_weights()

    gpunet.utils.set_random_seed(2024)
    w1 = build()
    w2 = build()
    gpunet.utils.set_random_seed(2024)
    w3 = build()
    assert len(w1) == 4
    assert not np.array_equal(w1[0], w2[0])
    for a, b in zip(w1, w3):
        np.testing.assert_array_equal(a, b)


ALL = [I.Zeros(), I.Ones(), I.Constant(3.0), I.RandomNormal(0.1, 0.2, seed=1),
       I.RandomUniform(-0.2, 0.3, seed=2), I.TruncatedNormal(0.0, 0.5, seed=3),
       I.VarianceScaling(2.0, "fan_out", "uniform", seed=4), I.GlorotUniform(seed=5),
       I.GlorotNormal(), I.HeNormal(seed=6), I.HeUniform(), I.LecunNormal(), I.LecunUniform(),
       I.Orthogonal(gain=0.5, seed=7), I.Identity(gain=3.0)]


@pytest.mark.parametrize("init", ALL, ids=lambda i: type(i).__name__)
def test_config_round_trip(init):
    cfg = init.get_config()
    clone = type(init).from_config(cfg)
    assert clone.get_config() == cfg
    restored = I.get(I.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == cfg
    deterministic = cfg.get("seed") is not None or isinstance(init, (I.Zeros, I.Constant,
                                                                     I.Identity))
    if deterministic:
        np.testing.assert_array_equal(init((3, 3)), restored((3, 3)))


@pytest.mark.parametrize("name,cls", [
    ("glorot_uniform", I.GlorotUniform), ("GlorotUniform", I.GlorotUniform),
    ("glorot_normal", I.GlorotNormal), ("he_normal", I.HeNormal), ("he_uniform", I.HeUniform),
    ("lecun_normal", I.LecunNormal), ("lecun_uniform", I.LecunUniform),
    ("normal", I.RandomNormal), ("random_normal", I.RandomNormal),
    ("uniform", I.RandomUniform), ("random_uniform", I.RandomUniform),
    ("truncated_normal", I.TruncatedNormal), ("variance_scaling", I.VarianceScaling),
    ("orthogonal", I.Orthogonal), ("identity", I.Identity), ("zeros", I.Zeros),
    ("ones", I.Ones), ("constant", I.Constant),
])
def test_get_by_name(name, cls):
    assert type(I.get(name)) is cls


def test_get_passes_through_instances_callables_and_none():
    inst = I.HeNormal()
    assert I.get(inst) is inst
    assert I.get(None) is None

    def custom(shape, dtype=None):
        return np.zeros(shape, dtype)

    assert I.get(custom) is custom


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match="glorot_uniform"):
        I.get("glorot_unifrom")
    with pytest.raises(ValueError, match="scale"):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        I.VarianceScaling(scale=-1.0)
    with pytest.raises(ValueError, match="mode"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        I.VarianceScaling(distribution="gaussian")
    with pytest.raises(ValueError, match=r"shape=\(5,\)"):
        I.Orthogonal()((5,))
    with pytest.raises(ValueError, match=r"shape=\(2, 2, 2\)"):
        I.Identity()((2, 2, 2))
    with pytest.raises(TypeError, match="initializer"):
        I.get(3.5)


def test_keras_315_fan_axes():
    from gpunet import initializers as I

    assert I.compute_fans((3, 4, 5), input_axes=[0, 1], output_axes=[2]) == (12, 5)
    init = I.GlorotUniform(seed=1, input_axes=[0], output_axes=[1, 2])
    w = init((6, 2, 5))
    limit = np.sqrt(6.0 / (6 + 10))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.8 * limit
    assert init.get_config() == {"seed": 1, "input_axes": [0], "output_axes": [1, 2]}
    assert I.HeNormal().get_config() == {"seed": None}  # older Keras reads our files too
    back = I.GlorotUniform.from_config({"seed": None, "input_axes": None, "output_axes": None})
    assert back.input_axes is None
