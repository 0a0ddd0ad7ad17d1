"""Conv1D / Conv2D layers: Keras arithmetic for shapes, values against naive loops, weights,
data formats, errors, configs, save/load round trip, and learning the 8x8 digits."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, initializers, layers, regularizers
from gpunet.autograd import Tensor
from gpunet.saving.serialization import deserialize_layer


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def keras_len(n, k, s, d, padding):
    """Keras's formula (keras-semantics.md 4.3)."""
    k_eff = d * (k - 1) + 1
    if padding in ("same", "causal"):
        return -(-n // s)
    return (n - k_eff) // s + 1


def naive_conv(x, w, b, s, padding, d):
    """Cross-correlation of NHWC x, one output pixel at a time (groups=1)."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    keh, kew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    oh, ow = keras_len(h, kh, s[0], d[0], padding), keras_len(wd, kw, s[1], d[1], padding)
    ph = max((oh - 1) * s[0] + keh - h, 0) if padding == "same" else 0
    pw = max((ow - 1) * s[1] + kew - wd, 0) if padding == "same" else 0
    xp = np.zeros((n, h + ph, wd + pw, c), x.dtype)
    xp[:, ph // 2:ph // 2 + h, pw // 2:pw // 2 + wd] = x
    out = np.zeros((n, oh, ow, f))
    for i, j in itertools.product(range(oh), range(ow)):
        patch = xp[:, i * s[0]:i * s[0] + keh:d[0], j * s[1]:j * s[1] + kew:d[1]]
        out[:, i, j] = np.einsum("nabc,abcf->nf", patch, w)
    return out + b


CASES = [(s, p, d) for s, p, d in itertools.product([(1, 1), (2, 2), (3, 2)], ["valid", "same"],
                                                   [(1, 1), (2, 2), (1, 3)])
         if max(s) == 1 or max(d) == 1]


@pytest.mark.parametrize("strides,padding,dilation", CASES, ids=str)
def test_conv2d_shapes_and_values(backend, strides, padding, dilation):
    x = _r(0, 2, 11, 10, 3)
    layer = layers.Conv2D(4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation,
                          bias_initializer="random_normal")
    y = layer(Tensor(backend.asarray(x)))
    exp_shape = (2, keras_len(11, 3, strides[0], dilation[0], padding),
                 keras_len(10, 2, strides[1], dilation[1], padding), 4)
    assert y.shape == exp_shape
    assert layer.compute_output_shape((None, 11, 10, 3)) == (None,) + exp_shape[1:]
    k, b = layer.get_weights()
    np.testing.assert_allclose(backend.to_numpy(y.data),
                               naive_conv(x, k, b, strides, padding, dilation),
                               rtol=1e-4, atol=1e-5)


def test_weights_names_shapes_and_defaults(backend):
    layer = layers.Conv2D(8, 3, input_shape=(6, 6, 4))
    layer(Tensor(backend.asarray(_r(1, 1, 6, 6, 4))))
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert [tuple(w.shape) for w in layer.weights] == [(3, 3, 4, 8), (8,)]
    assert layer.count_params() == 3 * 3 * 4 * 8 + 8
    k, b = layer.get_weights()
    assert not b.any() and np.abs(k).max() <= np.sqrt(6 / (36 + 72))  # glorot_uniform fans
    assert layer.name == "conv2d" and layer.strides == (1, 1) and layer.padding == "valid"
    grouped = layers.Conv2D(6, 3, groups=2, use_bias=False)
    grouped.build((None, 5, 5, 4))
    assert [tuple(w.shape) for w in grouped.weights] == [(3, 3, 2, 6)]


def test_groups_equal_separate_convolutions(backend):
    x = _r(2, 2, 6, 6, 4)
    layer = layers.Conv2D(6, 3, groups=2, padding="same")
    y = backend.to_numpy(layer(Tensor(backend.asarray(x))).data)
    k, b = layer.get_weights()
    for g in range(2):
        part = naive_conv(x[..., 2 * g:2 * g + 2], k[..., 3 * g:3 * g + 3], b[3 * g:3 * g + 3],
                          (1, 1), "same", (1, 1))
        np.testing.assert_allclose(y[..., 3 * g:3 * g + 3], part, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", None])
def test_channels_first_matches_channels_last(backend, activation):
    x = _r(3, 2, 7, 5, 3)
    last = layers.Conv2D(4, 3, strides=2, padding="same", activation=activation)
    first = layers.Conv2D(4, 3, strides=2, padding="same", activation=activation,
                          data_format="channels_first")
    y_last = last(Tensor(backend.asarray(x)))
    first.build((None, 3, 7, 5))
    first.set_weights(last.get_weights())
    y_first = first(Tensor(backend.asarray(x.transpose(0, 3, 1, 2))))
    assert first.compute_output_shape((None, 3, 7, 5)) == (None, 4, 4, 3)
    np.testing.assert_allclose(backend.to_numpy(y_first.data),
                               backend.to_numpy(y_last.data).transpose(0, 3, 1, 2), rtol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d(backend, padding, strides, dilation):
    x = _r(4, 2, 9, 3)
    layer = layers.Conv1D(5, 3, strides=strides, padding=padding, dilation_rate=dilation,
                          bias_initializer="ones")
    y = backend.to_numpy(layer(Tensor(backend.asarray(x))).data)
    assert y.shape == (2, keras_len(9, 3, strides, dilation, padding), 5)
    assert layer.compute_output_shape((None, 9, 3)) == (None,) + y.shape[1:]
    k, b = layer.get_weights()
    xin = x
    if padding == "causal":  # left padding by dilation * (k - 1), then "valid"
        xin = np.concatenate([np.zeros((2, dilation * 2, 3), "float32"), x], axis=1)
    exp = naive_conv(xin[:, None], k[None], b, (1, strides),
                     "valid" if padding == "causal" else padding, (1, dilation))[:, 0]
    np.testing.assert_allclose(y, exp, rtol=1e-4, atol=1e-5)


def test_causal_output_does_not_see_the_future(backend):
    layer = layers.Conv1D(1, 3, padding="causal", kernel_initializer="ones", use_bias=False)
    x = np.zeros((1, 6, 1), "float32")
    x[0, 3] = 1.0
    y = backend.to_numpy(layer(Tensor(backend.asarray(x))).data).ravel()
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])


def test_regularizers_and_gradients(backend):
    layer = layers.Conv2D(2, 2, kernel_initializer="ones", kernel_regularizer=regularizers.L2(0.5),
                          activity_regularizer="l1")
    x = Tensor(backend.asarray(np.ones((2, 3, 3, 1), "float32")))
    layer(x).sum().backward()
    kernel_penalty, activity = [float(p.item()) for p in layer.losses]
    assert kernel_penalty == pytest.approx(0.5 * 8)  # 8 kernel entries of 1
    assert activity == pytest.approx(0.01 * 16 * 4 / 2)  # 16 outputs of 4, batch 2
    np.testing.assert_allclose(backend.to_numpy(layer.bias.grad), [8, 8])
    np.testing.assert_allclose(backend.to_numpy(layer.kernel.grad), np.full((2, 2, 1, 2), 8))


def test_input_errors_name_the_layer_and_shapes(backend):
    layer = layers.Conv2D(2, 3, name="c1")
    layer(Tensor(backend.asarray(np.zeros((1, 5, 5, 3), "float32"))))
    with pytest.raises(ValueError, match=r"'c1'.*value 3.*\(None, 5, 5, 4\)"):
        layer(Tensor(backend.asarray(np.zeros((1, 5, 5, 4), "float32"))))
    with pytest.raises(ValueError, match=r"'c1'.*expected ndim=4, found ndim=3.*\(None, 5, 3\)"):
        layer(Tensor(backend.asarray(np.zeros((1, 5, 3), "float32"))))
    with pytest.raises(ValueError, match=r"'conv1d'.*ndim=3.*\(None, 5, 5, 3\)"):
        layers.Conv1D(2, 3).build((None, 5, 5, 3))
    with pytest.raises(ValueError, match=r"'conv2d'.*zero or negative.*\(None, 2, 2, 1\)"):
        layers.Conv2D(2, 3).build((None, 2, 2, 1))
    with pytest.raises(ValueError, match="divisible by the number of groups"):
        layers.Conv2D(4, 3, groups=2).build((None, 5, 5, 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(filters=0, kernel_size=3), "filters=0"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, padding="causal"), "padding='causal'"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (dict(filters=3, kernel_size=3, groups=2), "groups=2"),
    (dict(filters=3, kernel_size=3, data_format="nhwc"), "data_format"),
])
def test_argument_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.Conv2D(**kwargs)


def test_config_round_trip_and_aliases():
    layer = layers.Conv2D(5, (3, 2), strides=(2, 1), padding="SAME", dilation_rate=1,
                          groups=1, activation="relu", use_bias=False,
                          kernel_initializer=initializers.HeNormal(seed=1),
                          kernel_regularizer="l2", bias_constraint="non_neg",
                          data_format="channels_first", name="cc")
    cfg = json.loads(json.dumps(layer.get_config()))
    assert cfg["kernel_size"] == [3, 2] and cfg["padding"] == "same" and cfg["groups"] == 1
    back = deserialize_layer({"class_name": "Conv2D", "config": cfg})
    assert json.loads(json.dumps(back.get_config())) == cfg
    alias = deserialize_layer({"class_name": "Convolution1D",
                               "config": {"filters": 2, "kernel_size": [4]}})
    assert type(alias) is layers.Conv1D and alias.kernel_size == (4,)
    assert layers.Convolution2D is layers.Conv2D


def _cnn():
    return Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                       layers.MaxPooling2D(), layers.Flatten(), layers.Dense(3)])


def test_save_load_round_trip(tmp_path, round_trip):
    gpunet.utils.set_random_seed(0)
    x, y = _r(5, 6, 8, 8, 1), _r(6, 6, 3)
    loaded = round_trip(_cnn(), x, y, tmp_path)
    assert loaded.layers[0].kernel.shape == (3, 3, 1, 4)


def test_small_cnn_learns_the_digits():
    gpunet.utils.set_random_seed(0)
    (x, y), (xt, yt) = gpunet.datasets.digits.load_data()
    x = (x / 16.0).astype("float32")[..., None]
    xt = (xt / 16.0).astype("float32")[..., None]
    model = Sequential([layers.Input((8, 8, 1)),
                        layers.Conv2D(16, 3, padding="same", activation="relu"),
                        layers.MaxPooling2D(), layers.Flatten(),
                        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.Adam(0.005),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    _, acc = model.evaluate(xt, yt, verbose=0)
    assert acc > 0.9
