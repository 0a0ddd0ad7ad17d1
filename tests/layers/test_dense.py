"""The Dense layer: every Keras argument, shapes, weights, config, input checks, freezing."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import activations, constraints, initializers, regularizers
from gpunet.autograd import Tensor
from gpunet.layers import Dense


def _x(backend, *shape, seed=0, dtype="float32"):
    return Tensor(backend.asarray(np.random.default_rng(seed).standard_normal(shape)
                                  .astype(dtype)))


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def test_output_and_weights(backend):
    layer = Dense(4)
    x = _x(backend, 5, 3)
    y = layer(x)
    assert y.shape == (5, 4) and y.dtype == np.float32
    assert [w.path for w in layer.weights] == ["dense/kernel", "dense/bias"]
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert [tuple(w.shape) for w in layer.weights] == [(3, 4), (4,)]
    k, b = layer.get_weights()
    assert not b.any()  # zeros bias
    np.testing.assert_allclose(_np(backend, y), _np(backend, x) @ k + b, rtol=1e-5)
    assert layer.count_params() == 16 and layer.built
    assert layer.compute_output_shape((None, 3)) == (None, 4)


def test_any_rank_input_applies_to_the_last_axis(backend):
    layer = Dense(2, activation="tanh")
    x = _x(backend, 3, 5, 4)
    y = layer(x)
    assert y.shape == (3, 5, 2)
    k, b = layer.get_weights()
    np.testing.assert_allclose(_np(backend, y), np.tanh(_np(backend, x) @ k + b), rtol=1e-5)
    assert layer.compute_output_shape((None, 5, 4)) == (None, 5, 2)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax", "linear", None,
                                        activations.elu, lambda t: t * 2])
def test_activation_argument(backend, activation):
    layer = Dense(3, activation=activation, bias_initializer="ones")
    x = _x(backend, 4, 2)
    y = _np(backend, layer(x))
    k, b = layer.get_weights()
    pre = _np(backend, x) @ k + b
    ref = {"relu": np.maximum(pre, 0), "sigmoid": 1 / (1 + np.exp(-pre)),
           "softmax": np.exp(pre) / np.exp(pre).sum(-1, keepdims=True),
           "linear": pre, None: pre}
    if activation is activations.elu:
        exp = np.where(pre > 0, pre, np.expm1(pre))
    elif callable(activation):
        exp = pre * 2
    else:
        exp = ref[activation]
    np.testing.assert_allclose(y, exp, rtol=1e-5, atol=1e-6)


def test_use_bias_false(backend):
    layer = Dense(3, use_bias=False)
    layer(_x(backend, 2, 4))
    assert layer.bias is None and [w.name for w in layer.weights] == ["kernel"]
    assert layer.count_params() == 12


def test_initializers_by_name_and_instance(backend):
    layer = Dense(3, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    y = layer(Tensor(backend.asarray(np.ones((1, 2), "float32"))))
    np.testing.assert_allclose(_np(backend, y), [[2.5, 2.5, 2.5]])
    seeded = Dense(3, kernel_initializer=initializers.GlorotUniform(seed=1))
    seeded(_x(backend, 1, 2))
    np.testing.assert_array_equal(seeded.get_weights()[0],
                                  initializers.GlorotUniform(seed=1)((2, 3)))
    assert np.abs(seeded.get_weights()[0]).max() <= np.sqrt(6 / 5)


def test_regularizers_appear_in_losses(backend):
    layer = Dense(2, kernel_initializer="ones", bias_initializer=initializers.Constant(-2.0),
                  kernel_regularizer=regularizers.L2(0.1), bias_regularizer="l1")
    assert layer.losses == []
    x = Tensor(backend.asarray(np.ones((4, 3), "float32")))
    layer(x)
    penalties = [float(p.item()) for p in layer.losses]
    np.testing.assert_allclose(penalties, [0.1 * 6, 0.01 * 4], rtol=1e-6)
    assert layer.kernel.regularizer is layer.kernel_regularizer


def test_activity_regularizer_is_the_penalty_of_the_last_call(backend):
    layer = Dense(2, kernel_initializer="ones", activity_regularizer=regularizers.L2(0.5))
    x = Tensor(backend.asarray(np.ones((4, 3), "float32")))
    for training in (True, True, None):
        layer(x, training=training)
        (penalty,) = layer.losses  # no pile-up over calls
        # out = 3 everywhere, 4 x 2 outputs: 0.5 * 8 * 9 / batch 4
        assert float(penalty.item()) == pytest.approx(9.0)


def test_constraints_are_attached_to_the_variables(backend):
    layer = Dense(2, kernel_constraint="non_neg", bias_constraint=constraints.MaxNorm(1.0))
    layer(_x(backend, 1, 3))
    assert isinstance(layer.kernel.constraint, constraints.NonNeg)
    assert isinstance(layer.bias.constraint, constraints.MaxNorm)


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", None, True])
def test_units_validation(units):
    with pytest.raises(ValueError, match=f"units={units!r}"):
        Dense(units)


def test_units_accepts_numpy_integers():
    layer = Dense(np.int64(3))
    assert layer.units == 3 and type(layer.units) is int


def test_bad_input_shape_names_the_layer_and_both_shapes(backend):
    layer = Dense(2, name="head")
    layer(_x(backend, 2, 4))
    with pytest.raises(ValueError, match=r"'head'.*value 4.*\(None, 5\)"):
        layer(_x(backend, 2, 5))
    with pytest.raises(ValueError, match="'head'"):
        layer(_x(backend, 4))
    with pytest.raises(ValueError, match=r"'dense'.*\(None, None\)"):
        Dense(2).build((None, None))


def test_integer_inputs_compute_in_the_layer_dtype(backend):
    layer = Dense(2, kernel_initializer="ones")
    y = layer(backend.asarray(np.array([[1, 2, 3]])))
    assert y.dtype == np.float32
    np.testing.assert_allclose(_np(backend, y), [[6.0, 6.0]])


def test_gradients_reach_kernel_and_bias(backend):
    layer = Dense(2, activation="relu", kernel_initializer="ones")
    x = Tensor(backend.asarray(np.array([[1.0, -2.0, 4.0], [-1.0, -1.0, -1.0]], "float32")))
    layer(x).sum().backward()
    np.testing.assert_allclose(_np(backend, layer.kernel.grad), [[1, 1], [-2, -2], [4, 4]])
    np.testing.assert_allclose(_np(backend, layer.bias.grad), [1, 1])  # second row inactive


def test_trainable_false_freezes_weights(backend):
    layer = Dense(2, trainable=False)
    x = Tensor(backend.asarray(np.ones((1, 3), "float32")), requires_grad=True)
    layer(x).sum().backward()
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.kernel.grad is None and layer.bias.grad is None
    assert x.grad is not None
    assert layer.get_config()["trainable"] is False
    layer.trainable = True
    assert len(layer.trainable_weights) == 2 and layer.kernel.requires_grad
    layer.trainable = False
    assert not layer.kernel.requires_grad and not layer.kernel.trainable


def test_unique_auto_names():
    names = [Dense(1).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]
    assert Dense(1, name="custom").name == "custom"


def test_get_config_and_from_config(backend):
    layer = Dense(5, activation="relu", use_bias=True, kernel_initializer="he_normal",
                  bias_initializer=initializers.Constant(0.1),
                  kernel_regularizer=regularizers.L1L2(0.01, 0.02), bias_regularizer="l2",
                  activity_regularizer="l1", kernel_constraint="max_norm",
                  bias_constraint=constraints.NonNeg(), name="fc", input_shape=(7,))
    cfg = layer.get_config()
    assert cfg["name"] == "fc" and cfg["units"] == 5 and cfg["activation"] == "relu"
    assert cfg["trainable"] is True and cfg["dtype"] == "float32"
    assert cfg["batch_input_shape"] == [None, 7]
    assert cfg["kernel_initializer"] == {"class_name": "HeNormal", "config": {"seed": None}}
    assert cfg["bias_initializer"] == {"class_name": "Constant", "config": {"value": 0.1}}
    assert cfg["kernel_regularizer"] == {"class_name": "L1L2",
                                         "config": {"l1": 0.01, "l2": 0.02}}
    assert cfg["kernel_constraint"]["class_name"] == "MaxNorm"
    clone = Dense.from_config(cfg)
    assert clone.get_config() == cfg
    clone(_x(backend, 2, 7))
    assert [tuple(w.shape) for w in clone.weights] == [(7, 5), (5,)]
    np.testing.assert_allclose(clone.get_weights()[1], np.full(5, 0.1, "float32"))
    assert Dense.from_config({"units": 3, "batch_shape": [None, 2]}).get_config()[
        "batch_input_shape"] == [None, 2]


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="kernel_init"):
        Dense(2, kernel_init="ones")
    with pytest.raises(ValueError, match="activation"):
        Dense(2, activation="relux")


def test_set_weights_checks_count_and_shapes(backend):
    layer = Dense(2)
    layer(_x(backend, 1, 3))
    layer.set_weights([np.ones((3, 2)), np.full(2, 5.0)])
    np.testing.assert_allclose(layer.get_weights()[1], [5.0, 5.0])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"'kernel'.*\(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.ones(2)])
