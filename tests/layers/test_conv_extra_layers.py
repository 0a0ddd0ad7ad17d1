"""Conv3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D and the 3-D pooling /
spatial layers: Keras shape formulas, values against naive loops, weight layouts and names,
data formats, errors, configs and save/load round trips."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd import Tensor
from gpunet.saving.serialization import deserialize_layer


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _run(backend, layer, x):
    return backend.to_numpy(layer(Tensor(backend.asarray(x))).data)


def keras_conv_len(n, k, s, d, padding):
    k_eff = d * (k - 1) + 1
    return -(-n // s) if padding == "same" else (n - k_eff) // s + 1


def keras_deconv_len(n, k, padding, output_padding, s, d):
    """keras.utils.conv_utils.deconv_output_length, restated."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


def naive_transpose_2d(x, w, b, s, padding, op):
    """Scatter each input pixel through the (kh, kw, filters, in) kernel, crop as TF does."""
    n, h, wd, _ = x.shape
    kh, kw, f, _ = w.shape
    lens = [keras_deconv_len(a, k, padding, o, st, 1) for a, k, o, st in
            zip((h, wd), (kh, kw), op or (None, None), s)]
    before = []
    for L, k, st in zip(lens, (kh, kw), s):
        total = max((-(-L // st) - 1) * st + k - L, 0) if padding == "same" else 0
        before.append(total // 2)
    y = np.zeros((n, (h - 1) * s[0] + kh + lens[0], (wd - 1) * s[1] + kw + lens[1], f))
    for i, j, a, c in itertools.product(range(h), range(wd), range(kh), range(kw)):
        y[:, i * s[0] + a, j * s[1] + c] += x[:, i, j] @ w[a, c].T
    return y[:, before[0]:before[0] + lens[0], before[1]:before[1] + lens[1]] + b


TRANSPOSE_CASES = [((1, 1), "valid", None), ((2, 2), "valid", None), ((2, 2), "same", None),
                   ((3, 2), "same", None), ((2, 2), "valid", (1, 0)), ((3, 3), "same", (2, 1)),
                   ((2, 3), "valid", (1, 2))]


@pytest.mark.parametrize("strides,padding,output_padding", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_shapes_and_values(backend, strides, padding, output_padding):
    x = _r(0, 2, 4, 5, 3)
    layer = layers.Conv2DTranspose(2, (3, 2), strides=strides, padding=padding,
                                   output_padding=output_padding,
                                   bias_initializer="random_normal")
    y = _run(backend, layer, x)
    op = output_padding or (None, None)
    exp_shape = (2, keras_deconv_len(4, 3, padding, op[0], strides[0], 1),
                 keras_deconv_len(5, 2, padding, op[1], strides[1], 1), 2)
    assert y.shape == exp_shape
    assert layer.compute_output_shape((None, 4, 5, 3)) == (None,) + exp_shape[1:]
    k, b = layer.get_weights()
    assert k.shape == (3, 2, 2, 3)  # (kh, kw, filters, in_channels)
    np.testing.assert_allclose(y, naive_transpose_2d(x, k, b, strides, padding, output_padding),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n,k,s,padding,op,d", [(5, 3, 1, "valid", None, 1),
                                                (5, 3, 2, "same", None, 1),
                                                (4, 4, 3, "valid", None, 1),
                                                (6, 2, 4, "valid", None, 1),
                                                (5, 3, 2, "same", 1, 1),
                                                (5, 5, 3, "valid", 2, 1),
                                                (7, 3, 1, "same", None, 2),
                                                (7, 2, 1, "valid", 0, 3)])
def test_conv1d_transpose_follows_deconv_output_length(backend, n, k, s, padding, op, d):
    layer = layers.Conv1DTranspose(3, k, strides=s, padding=padding, output_padding=op,
                                   dilation_rate=d)
    y = _run(backend, layer, _r(1, 2, n, 2))
    assert y.shape == (2, keras_deconv_len(n, k, padding, op, s, d), 3)
    assert layer.compute_output_shape((None, n, 2)) == (None,) + y.shape[1:]
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert layer.kernel.shape == (k, 3, 2)


def test_conv3d_and_conv3d_transpose(backend):
    x = _r(2, 2, 5, 4, 6, 3)
    conv = layers.Conv3D(4, (3, 2, 2), strides=(1, 2, 2), padding="same", activation="relu",
                         bias_initializer="ones")
    y = _run(backend, conv, x)
    assert y.shape == (2, 5, 2, 3, 4) and conv.kernel.shape == (3, 2, 2, 3, 4)
    k, b = conv.get_weights()
    # "same" padding: depth P = 2 (1 before, 1 after); rows and cols P = 0 (stride 2 fits)
    xp = np.zeros((2, 7, 4, 6, 3), "float32")
    xp[:, 1:6] = x
    exp = np.zeros((2, 5, 2, 3, 4))
    for i, j, m in itertools.product(range(5), range(2), range(3)):
        patch = xp[:, i:i + 3, 2 * j:2 * j + 2, 2 * m:2 * m + 2]
        exp[:, i, j, m] = np.einsum("nabcd,abcdf->nf", patch, k)
    np.testing.assert_allclose(y, np.maximum(exp + b, 0), rtol=1e-4, atol=1e-5)
    up = layers.Conv3DTranspose(2, 2, strides=2)
    assert _run(backend, up, y).shape == (2, 10, 4, 6, 2)
    assert up.kernel.shape == (2, 2, 2, 2, 4)


def naive_depthwise(x, w, s, padding):
    """Each channel c with filters w[..., c, :]; output channel c * mult + m."""
    n, h, wd, c = x.shape
    kh, kw, _, mult = w.shape
    oh, ow = keras_conv_len(h, kh, s, 1, padding), keras_conv_len(wd, kw, s, 1, padding)
    ph = max((oh - 1) * s + kh - h, 0) if padding == "same" else 0
    pw = max((ow - 1) * s + kw - wd, 0) if padding == "same" else 0
    xp = np.zeros((n, h + ph, wd + pw, c))
    xp[:, ph // 2:ph // 2 + h, pw // 2:pw // 2 + wd] = x
    out = np.zeros((n, oh, ow, c, mult))
    for i, j in itertools.product(range(oh), range(ow)):
        out[:, i, j] = np.einsum("nabc,abcm->ncm", xp[:, i * s:i * s + kh, j * s:j * s + kw], w)
    return out.reshape(n, oh, ow, c * mult)


@pytest.mark.parametrize("strides,padding", [(1, "valid"), (2, "same"), (1, "same")])
def test_depthwise_and_separable_conv2d_values(backend, strides, padding):
    x = _r(3, 2, 6, 7, 3)
    dw = layers.DepthwiseConv2D(3, strides=strides, padding=padding, depth_multiplier=2,
                                bias_initializer="random_normal")
    y = _run(backend, dw, x)
    assert [(w.name, tuple(w.shape)) for w in dw.weights] == [("kernel", (3, 3, 3, 2)),
                                                              ("bias", (6,))]
    k, b = dw.get_weights()
    np.testing.assert_allclose(y, naive_depthwise(x, k, strides, padding) + b, rtol=1e-4,
                               atol=1e-5)
    assert dw.compute_output_shape((None, 6, 7, 3)) == (None,) + y.shape[1:]
    sep = layers.SeparableConv2D(4, 3, strides=strides, padding=padding, depth_multiplier=2,
                                 bias_initializer="random_normal")
    y = _run(backend, sep, x)
    assert [(w.name, tuple(w.shape)) for w in sep.weights] == [
        ("depthwise_kernel", (3, 3, 3, 2)), ("pointwise_kernel", (1, 1, 6, 4)), ("bias", (4,))]
    dk, pk, b = sep.get_weights()
    np.testing.assert_allclose(y, naive_depthwise(x, dk, strides, padding) @ pk[0, 0] + b,
                               rtol=1e-4, atol=1e-5)
    assert sep.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4


def test_depthwise_and_separable_conv1d(backend):
    x = _r(4, 2, 9, 2)
    dw = layers.DepthwiseConv1D(3, strides=2, depth_multiplier=3, use_bias=False)
    y = _run(backend, dw, x)
    (k,) = dw.get_weights()
    assert k.shape == (3, 2, 3) and y.shape == (2, 4, 6)
    np.testing.assert_allclose(y, naive_depthwise(x[:, None], k[None], 1, "valid")[:, 0, ::2],
                               rtol=1e-4, atol=1e-5)
    sep = layers.SeparableConv1D(5, 3, padding="same", dilation_rate=2)
    assert _run(backend, sep, x).shape == (2, 9, 5)
    assert sep.pointwise_kernel.shape == (1, 2, 5)


def test_channels_first_matches_channels_last(backend):
    x = _r(5, 2, 4, 5, 3)
    xf = x.transpose(0, 3, 1, 2)
    for cls, kw in [(layers.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2)),
                    (layers.DepthwiseConv2D, dict(kernel_size=2, depth_multiplier=2)),
                    (layers.SeparableConv2D, dict(filters=2, kernel_size=2))]:
        last, first = cls(**kw), cls(data_format="channels_first", **kw)
        y_last = _run(backend, last, x)
        first.build((None, 3, 4, 5))
        first.set_weights(last.get_weights())
        np.testing.assert_allclose(_run(backend, first, xf), y_last.transpose(0, 3, 1, 2),
                                   rtol=1e-5, atol=1e-6)
        assert first.compute_output_shape((None, 3, 4, 5)) == (None,) + y_last.transpose(
            0, 3, 1, 2).shape[1:]
    v = _r(6, 1, 4, 4, 5, 2)
    for layer_cls in (layers.MaxPooling3D, layers.AveragePooling3D):
        a = _run(backend, layer_cls(2, padding="same"), v)
        b = _run(backend, layer_cls(2, padding="same", data_format="channels_first"),
                 v.transpose(0, 4, 1, 2, 3))
        np.testing.assert_allclose(b, a.transpose(0, 4, 1, 2, 3), rtol=1e-6)


def test_3d_pooling_and_spatial_layers(backend):
    v = _r(7, 2, 4, 6, 5, 3)
    y = _run(backend, layers.MaxPooling3D((2, 3, 2)), v)
    assert y.shape == (2, 2, 2, 2, 3)
    np.testing.assert_allclose(y[:, 1, 0, 1], v[:, 2:4, 0:3, 2:4].max(axis=(1, 2, 3)))
    y = _run(backend, layers.AveragePooling3D(2, strides=1), v)
    assert y.shape == (2, 3, 5, 4, 3)
    np.testing.assert_allclose(y[:, 0, 4, 3], v[:, 0:2, 4:6, 3:5].mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(_run(backend, layers.GlobalMaxPooling3D(), v),
                               v.max(axis=(1, 2, 3)))
    g = _run(backend, layers.GlobalAveragePooling3D(keepdims=True), v)
    np.testing.assert_allclose(g, v.mean(axis=(1, 2, 3), keepdims=True), rtol=1e-5)
    up = _run(backend, layers.UpSampling3D((2, 1, 3)), v)
    np.testing.assert_array_equal(up, v.repeat(2, axis=1).repeat(3, axis=3))
    pad = _run(backend, layers.ZeroPadding3D(((1, 0), (0, 2), 1)), v)
    np.testing.assert_array_equal(pad, np.pad(v, [(0, 0), (1, 0), (0, 2), (1, 1), (0, 0)]))
    crop = _run(backend, layers.Cropping3D(((1, 0), (2, 1), 1)), v)
    np.testing.assert_array_equal(crop, v[:, 1:, 2:5, 1:4])
    assert layers.Cropping3D(1).compute_output_shape((None, 4, 6, 5, 3)) == (None, 2, 4, 3, 3)
    assert layers.MaxPool3D is layers.MaxPooling3D and layers.GlobalAvgPool3D is (
        layers.GlobalAveragePooling3D)


def test_errors_name_the_layer_and_what_was_expected(backend):
    layer = layers.Conv2DTranspose(2, 3, name="up")
    _run(backend, layer, np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r"'up'.*value 3.*\(None, 4, 4, 2\)"):
        _run(backend, layer, np.zeros((1, 4, 4, 2), "float32"))
    with pytest.raises(ValueError, match=r"'conv3d'.*ndim=5.*found ndim=4.*\(None, 4, 4, 3\)"):
        layers.Conv3D(2, 3).build((None, 4, 4, 3))
    with pytest.raises(ValueError, match=r"'dw'.*ndim=4.*\(None, 5, 3\)"):
        layers.DepthwiseConv2D(3, name="dw").build((None, 5, 3))
    with pytest.raises(ValueError, match=r"'sep'.*zero or negative.*\(None, 2, 2, 1\)"):
        layers.SeparableConv2D(2, 3, name="sep").build((None, 2, 2, 1))
    with pytest.raises(ValueError, match=r"'t'.*output length of 4.*input length 3"):
        layers.Conv2DTranspose(1, 2, strides=2, padding="same", output_padding=0,
                               name="t").build((None, 3, 3, 1))
    with pytest.raises(ValueError, match=r"'p3'.*\(None, 2, 8, 8, 1\)"):
        layers.MaxPooling3D(3, name="p3").build((None, 2, 8, 8, 1))
    with pytest.raises(ValueError, match=r"'c3'.*cropping=.*\(None, 2, 8, 8, 1\)"):
        layers.Cropping3D(1, name="c3").compute_output_shape((None, 2, 8, 8, 1))


@pytest.mark.parametrize("make,match", [
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2), r"strides=\(2, 2\), "
     r"output_padding=\(2, 2\)"),
    (lambda: layers.Conv1DTranspose(2, 3, padding="causal"), "padding='causal'"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier=0"),
    (lambda: layers.SeparableConv1D(0, 3), "filters=0"),
    (lambda: layers.SeparableConv2D(2, 3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (lambda: layers.Conv3D(2, (3, 3)), "kernel_size"),
    (lambda: layers.UpSampling3D((2, 2)), "size"),
    (lambda: layers.ZeroPadding3D(((1, 2), (1,), 1)), "padding"),
])
def test_argument_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_configs_round_trip():
    made = [layers.Conv2DTranspose(3, (3, 2), strides=(2, 1), padding="same",
                                   output_padding=(1, 0), activation="relu", name="t2"),
            layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_initializer="he_normal",
                                   depthwise_regularizer="l2", bias_constraint="non_neg"),
            layers.SeparableConv1D(4, 3, pointwise_initializer="ones", use_bias=False),
            layers.ZeroPadding3D(((1, 0), (2, 2), (0, 1))), layers.Cropping3D(2),
            layers.UpSampling3D((1, 2, 3), data_format="channels_first")]
    for layer in made:
        cfg = json.loads(json.dumps(layer.get_config()))
        back = deserialize_layer({"class_name": type(layer).__name__, "config": cfg})
        assert type(back) is type(layer)
        assert json.loads(json.dumps(back.get_config())) == cfg
    cfg = made[0].get_config()
    assert cfg["output_padding"] == (1, 0) and "groups" not in cfg
    assert made[1].get_config()["depth_multiplier"] == 2
    alias = deserialize_layer({"class_name": "Deconvolution2D",
                               "config": {"filters": 2, "kernel_size": [3, 3]}})
    assert type(alias) is layers.Conv2DTranspose


def _models():
    two_d = Sequential([layers.Input((6, 6, 2)), layers.DepthwiseConv2D(3, depth_multiplier=2),
                        layers.SeparableConv2D(3, 2, padding="same", activation="relu"),
                        layers.Conv2DTranspose(2, 3, strides=2, output_padding=1),
                        layers.Flatten(), layers.Dense(3)], name="two_d")
    one_d = Sequential([layers.Input((8, 3)), layers.Conv1DTranspose(4, 3, strides=2),
                        layers.DepthwiseConv1D(2, strides=2),
                        layers.SeparableConv1D(3, 3, depth_multiplier=2),
                        layers.GlobalAveragePooling1D(), layers.Dense(3)], name="one_d")
    three_d = Sequential([layers.Input((4, 4, 4, 2)), layers.Conv3D(3, 3, padding="same"),
                          layers.MaxPooling3D(2), layers.UpSampling3D(2),
                          layers.ZeroPadding3D(1), layers.Cropping3D(((0, 1), 1, (1, 0))),
                          layers.AveragePooling3D(2, padding="same"),
                          layers.Conv3DTranspose(2, 2, strides=2),
                          layers.GlobalMaxPooling3D(), layers.Dense(3)], name="three_d")
    pooled = Sequential([layers.Input((4, 4, 4, 2)), layers.GlobalAveragePooling3D(),
                         layers.Dense(3)], name="pooled")
    return [(two_d, (6, 6, 6, 2)), (one_d, (6, 8, 3)), (three_d, (4, 4, 4, 4, 2)),
            (pooled, (4, 4, 4, 4, 2))]


@pytest.mark.parametrize("index", range(4), ids=["2d", "1d", "3d", "global3d"])
def test_save_load_round_trip(tmp_path, round_trip, index):
    gpunet.utils.set_random_seed(0)
    model, xshape = _models()[index]
    x, y = _r(8, *xshape), _r(9, xshape[0], 3)
    loaded = round_trip(model, x, y, tmp_path, atol=1e-6)
    for a, b in zip(loaded.layers, model.layers):
        assert [w.name for w in a.weights] == [w.name for w in b.weights]


def test_small_autoencoder_learns_the_digits():
    gpunet.utils.set_random_seed(0)
    (x, _), _ = gpunet.datasets.digits.load_data()
    x = (x / 16.0).astype("float32")[..., None]
    inp = layers.Input((8, 8, 1))
    h = layers.SeparableConv2D(4, 3, padding="same", activation="relu")(inp)
    h = layers.MaxPooling2D()(h)
    h = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(h)
    out = layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(h)
    model = gpunet.Model(inp, out)
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    loss = model.fit(x, x, epochs=5, batch_size=64, verbose=0).history["loss"]
    assert loss[-1] < 0.4 * loss[0]
