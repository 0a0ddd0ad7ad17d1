"""Keras activations: values from the formulas, extreme inputs, and ``activations.get``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpunet import activations
from gpunet.autograd import Tensor

X = [-3.5, -1.0, -0.25, 0.0, 0.5, 2.0, 4.0, 7.0]
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(v):
    return 1 / (1 + math.exp(-v))


def _softplus(v):
    return math.log(1 + math.exp(v))


# name -> (callable under test, scalar formula written from Keras's documentation)
ELEMENTWISE = {
    "relu": (activations.relu, lambda v: max(v, 0.0)),
    "sigmoid": (activations.sigmoid, _sig),
    "tanh": (activations.tanh, math.tanh),
    "softplus": (activations.softplus, _softplus),
    "softsign": (activations.softsign, lambda v: v / (1 + abs(v))),
    "selu": (activations.selu,
             lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * (math.exp(v) - 1))),
    "elu": (activations.elu, lambda v: v if v > 0 else math.exp(v) - 1),
    "exponential": (activations.exponential, math.exp),
    "hard_sigmoid": (activations.hard_sigmoid, lambda v: min(max(v / 6 + 0.5, 0.0), 1.0)),
    "linear": (activations.linear, lambda v: v),
    "silu": (activations.silu, lambda v: v * _sig(v)),
    "swish": (activations.swish, lambda v: v * _sig(v)),
    "gelu": (activations.gelu, lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
    "leaky_relu": (activations.leaky_relu, lambda v: v if v >= 0 else 0.2 * v),
    "relu6": (activations.relu6, lambda v: min(max(v, 0.0), 6.0)),
    "hard_silu": (activations.hard_silu, lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0)),
    "hard_swish": (activations.hard_swish, lambda v: v * min(max(v / 6 + 0.5, 0.0), 1.0)),
    "mish": (activations.mish, lambda v: v * math.tanh(_softplus(v))),
}
OPTIONS = {
    "relu_negative_slope": (lambda t: activations.relu(t, negative_slope=0.1),
                            lambda v: v if v >= 0 else 0.1 * v),
    "relu_max_value": (lambda t: activations.relu(t, max_value=2.0), lambda v: min(max(v, 0), 2)),
    "relu_threshold": (lambda t: activations.relu(t, threshold=1.0), lambda v: v if v > 1 else 0),
    "relu_all": (lambda t: activations.relu(t, negative_slope=0.5, max_value=3.0, threshold=1.0),
                 lambda v: 3.0 if v >= 3 else (v if v > 1 else 0.5 * (v - 1))),
    "elu_alpha": (lambda t: activations.elu(t, alpha=0.5),
                  lambda v: v if v > 0 else 0.5 * (math.exp(v) - 1)),
    "leaky_relu_slope": (lambda t: activations.leaky_relu(t, negative_slope=0.01),
                         lambda v: v if v >= 0 else 0.01 * v),
    "gelu_approximate": (lambda t: activations.gelu(t, approximate=True),
                         lambda v: 0.5 * v * (1 + math.tanh(
                             math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))),
}


def _apply(backend, fn, values, dtype="float64"):
    out = fn(Tensor(backend.asarray(np.array(values, dtype=dtype))))
    return backend.to_numpy(out.data)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE) + sorted(OPTIONS))
def test_values_match_the_formula(backend, name):
    fn, formula = ELEMENTWISE.get(name) or OPTIONS[name]
    np.testing.assert_allclose(_apply(backend, fn, X), [formula(v) for v in X],
                               rtol=1e-12, atol=1e-15)
    f32 = _apply(backend, fn, X, "float32")
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, [formula(v) for v in X], rtol=1e-5, atol=1e-6)


def test_anchor_values(backend):
    one = [1.0]
    cases = {"sigmoid": 0.7310585786300049, "softplus": 1.3132616875182228,
             "selu": 1.0507009873554805, "gelu": 0.8413447460685429, "tanh": 0.7615941559557649,
             "mish": 0.8650983882673103, "silu": 0.7310585786300049, "hard_sigmoid": 2 / 3,
             "softsign": 0.5, "hard_silu": 2 / 3}
    for name, exp in cases.items():
        np.testing.assert_allclose(_apply(backend, getattr(activations, name), one), [exp],
                                   rtol=1e-12)
    np.testing.assert_allclose(_apply(backend, activations.leaky_relu, [-1.0]), [-0.2])
    np.testing.assert_allclose(_apply(backend, activations.hard_sigmoid, [-3.0, 3.0, 1.5]),
                               [0.0, 1.0, 0.75])  # Keras 3, not Keras 2's 0.2x + 0.5
    np.testing.assert_allclose(_apply(backend, activations.relu6, [7.0, -1.0]), [6.0, 0.0])


def test_relu_options_match_the_keras_docstring_examples(backend):
    x = [-10.0, -5.0, 0.0, 5.0, 10.0]
    for kwargs, exp in [({}, [0, 0, 0, 5, 10]), ({"negative_slope": 0.5}, [-5, -2.5, 0, 5, 10]),
                        ({"max_value": 5.0}, [0, 0, 0, 5, 5]),
                        ({"threshold": 5.0}, [0, 0, 0, 0, 10]),  # x == threshold gives 0
                        ({"negative_slope": 0.5, "threshold": 5.0}, [-7.5, -5, -2.5, 0, 10])]:
        got = _apply(backend, lambda t: activations.relu(t, **kwargs), x)  # noqa: B023
        np.testing.assert_allclose(got, exp, err_msg=str(kwargs))


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax_values(backend, axis):
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, math.log(2.0)]])
    e = np.exp(x)
    p = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(_apply(backend, lambda t: activations.softmax(t, axis=axis), x),
                               p, rtol=1e-12)
    np.testing.assert_allclose(
        _apply(backend, lambda t: activations.log_softmax(t, axis=axis), x), np.log(p),
        rtol=1e-12)
    np.testing.assert_allclose(_apply(backend, activations.softmax, [[0.0, 0.0, math.log(2.0)]]),
                               [[0.25, 0.25, 0.5]])


EXTREME = [-1e4, -100.0, 100.0, 1e4]
LIMITS = {  # f(-1e4), f(1e4)
    "relu": (0, 1e4), "sigmoid": (0, 1), "tanh": (-1, 1), "softplus": (0, 1e4),
    "softsign": (-1e4 / 10001, 1e4 / 10001), "elu": (-1, 1e4),
    "selu": (-SELU_SCALE * SELU_ALPHA, SELU_SCALE * 1e4),
    "hard_sigmoid": (0, 1), "linear": (-1e4, 1e4), "silu": (0, 1e4), "gelu": (0, 1e4),
    "leaky_relu": (-2e3, 1e4), "relu6": (0, 6), "hard_silu": (0, 1e4), "mish": (0, 1e4),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LIMITS))
def test_extreme_inputs_stay_finite(backend, name, dtype):
    fn = getattr(activations, name)
    x = Tensor(backend.asarray(np.array(EXTREME, dtype=dtype)), requires_grad=True)
    y = fn(x)
    out = backend.to_numpy(y.data)
    assert np.all(np.isfinite(out)), out
    lo, hi = LIMITS[name]
    np.testing.assert_allclose(out[[0, 3]], [lo, hi], rtol=1e-6, atol=1e-6)
    if y is not x:
        y.sum().backward()
        assert np.all(np.isfinite(backend.to_numpy(x.grad)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_inputs_softmax_family_and_exponential(backend, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-100.0, 100.0, 100.0]], dtype=dtype)
    p = _apply(backend, activations.softmax, x, dtype)
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 0.5, 0.5]], atol=1e-7)
    lp = _apply(backend, activations.log_softmax, x, dtype)
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp, [[0, -2e4, -1e4], [-200 - math.log(2), -math.log(2),
                                                     -math.log(2)]], rtol=1e-6)
    np.testing.assert_allclose(_apply(backend, activations.exponential, [-1e4, -100.0], dtype),
                               [0.0, math.exp(-100)], rtol=1e-6,
                               # exp(-100) is a float32 subnormal: GPUs flush it to zero
                               atol=1e-43 if dtype == "float32" else 1e-45)


ALL_NAMES = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign", "selu",
             "elu", "exponential", "hard_sigmoid", "linear", "swish", "silu", "gelu",
             "leaky_relu", "relu6", "hard_silu", "hard_swish", "mish"]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_get_resolves_every_keras_name(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.get(activations.serialize(fn)) is fn


def test_get_with_callables_none_dicts_and_aliases():
    def custom(x):
        return x

    assert activations.get(custom) is custom
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get({"class_name": "relu", "config": {}}) is activations.relu
    assert activations.serialize(activations.relu) == "relu"


def test_get_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Unknown activation: 'rellu'.*'relu'"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="'sigmoid'"):
        activations.get("sigmod")
    with pytest.raises(TypeError, match="activation"):
        activations.get(3)
