"""Pooling layers (windowed and global) and the spatial layers UpSampling, ZeroPadding and
Cropping: Keras shapes, values against naive loops, data formats, masks, errors, configs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.saving.serialization import deserialize_layer


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _run(backend, layer, x):
    return backend.to_numpy(layer(Tensor(backend.asarray(x))).data)


def keras_pool_len(n, k, s, padding):
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def naive_pool(x, pool, strides, padding, mode):
    """Windows over the real cells only ("same" puts the odd extra padding at the end)."""
    n, h, w, c = x.shape
    oh, ow = (keras_pool_len(h, pool[0], strides[0], padding),
              keras_pool_len(w, pool[1], strides[1], padding))
    top = max((oh - 1) * strides[0] + pool[0] - h, 0) // 2 if padding == "same" else 0
    left = max((ow - 1) * strides[1] + pool[1] - w, 0) // 2 if padding == "same" else 0
    out = np.zeros((n, oh, ow, c))
    for i, j in itertools.product(range(oh), range(ow)):
        r0, c0 = i * strides[0] - top, j * strides[1] - left
        win = x[:, max(r0, 0):r0 + pool[0], max(c0, 0):c0 + pool[1]]
        out[:, i, j] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return out


POOL2D = [((2, 2), None, "valid"), ((2, 2), None, "same"), ((3, 3), (2, 2), "valid"),
          ((3, 3), (2, 2), "same"), ((2, 3), (1, 1), "same"), ((3, 2), (3, 1), "valid")]


@pytest.mark.parametrize("cls,mode", [(layers.MaxPooling2D, "max"),
                                      (layers.AveragePooling2D, "avg")])
@pytest.mark.parametrize("pool,strides,padding", POOL2D, ids=str)
def test_pool2d_shapes_and_values(backend, cls, mode, pool, strides, padding):
    x = _r(0, 2, 7, 6, 3)
    layer = cls(pool, strides, padding)
    y = _run(backend, layer, x)
    s = strides or pool
    exp_shape = (2, keras_pool_len(7, pool[0], s[0], padding),
                 keras_pool_len(6, pool[1], s[1], padding), 3)
    assert y.shape == exp_shape
    assert layer.compute_output_shape((None, 7, 6, 3)) == (None,) + exp_shape[1:]
    np.testing.assert_allclose(y, naive_pool(x, pool, s, padding, mode), rtol=1e-6)


@pytest.mark.parametrize("cls,mode", [(layers.MaxPooling1D, "max"),
                                      (layers.AveragePooling1D, "avg")])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (2, None, "same"),
                                                  (3, 2, "same"), (3, 1, "valid")])
def test_pool1d_shapes_and_values(backend, cls, mode, pool, strides, padding):
    x = _r(1, 2, 7, 3)
    layer = cls(pool, strides, padding)
    y = _run(backend, layer, x)
    exp = naive_pool(x[:, None], (1, pool), (1, strides or pool), padding, mode)[:, 0]
    assert layer.compute_output_shape((None, 7, 3)) == (None,) + exp.shape[1:]
    np.testing.assert_allclose(y, exp, rtol=1e-6)


def test_pooling_defaults_channels_first_and_aliases(backend):
    layer = layers.MaxPooling2D()
    assert (layer.pool_size, layer.strides, layer.padding) == ((2, 2), (2, 2), "valid")
    assert layer.name == "max_pooling2d"
    assert layers.AveragePooling2D().pool_size == (2, 2)  # Keras 2 default
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    x = _r(2, 2, 5, 6, 3)
    first = layers.AveragePooling2D(2, padding="same", data_format="channels_first")
    y = _run(backend, first, x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(y, naive_pool(x, (2, 2), (2, 2), "same", "avg")
                               .transpose(0, 3, 1, 2), rtol=1e-6)
    assert first.compute_output_shape((None, 3, 5, 6)) == (None, 3, 3, 3)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_global_pooling(backend, keepdims, fmt):
    x2, x1 = _r(3, 2, 4, 5, 3), _r(4, 2, 6, 3)
    cases = [(layers.GlobalMaxPooling2D, x2, np.max), (layers.GlobalAveragePooling2D, x2, np.mean),
             (layers.GlobalMaxPooling1D, x1, np.max), (layers.GlobalAveragePooling1D, x1, np.mean)]
    for cls, x, fn in cases:
        first = fmt == "channels_first"
        xin = np.moveaxis(x, -1, 1) if first else x
        axes = tuple(range(2, x.ndim)) if first else tuple(range(1, x.ndim - 1))
        layer = cls(data_format=fmt, keepdims=keepdims)
        y = _run(backend, layer, xin)
        np.testing.assert_allclose(y, fn(xin, axis=axes, keepdims=keepdims), rtol=1e-6)
        assert layer.compute_output_shape((None,) + xin.shape[1:]) == (None,) + y.shape[1:]


def test_global_average_pooling1d_skips_masked_steps(backend):
    x = _r(5, 2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    layer = layers.GlobalAveragePooling1D()
    y = backend.to_numpy(layer(Tensor(backend.asarray(x)), mask=backend.asarray(mask)).data)
    np.testing.assert_allclose(y[0], x[0, :2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(y[1], x[1].mean(0), rtol=1e-6)
    assert layer.compute_mask(None, mask) is None


def test_up_sampling(backend):
    x = _r(6, 2, 3, 4, 2)
    up = layers.UpSampling2D((2, 3))
    np.testing.assert_array_equal(_run(backend, up, x),
                                  np.repeat(np.repeat(x, 2, axis=1), 3, axis=2))
    assert up.compute_output_shape((None, 3, 4, 2)) == (None, 6, 12, 2)
    assert up.name == "up_sampling2d"
    first = layers.UpSampling2D(2, data_format="channels_first")
    xf = x.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(_run(backend, first, xf), np.repeat(np.repeat(xf, 2, 2), 2, 3))
    bil = _run(backend, layers.UpSampling2D((1, 2), interpolation="bilinear"),
               np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1))
    np.testing.assert_allclose(bil.ravel(), [0.0, 0.25, 0.75, 1.0])  # half-pixel, clamped
    x1 = _r(7, 2, 3, 2)
    np.testing.assert_array_equal(_run(backend, layers.UpSampling1D(3), x1), np.repeat(x1, 3, 1))
    assert layers.UpSampling1D(3).compute_output_shape((None, 3, 2)) == (None, 9, 2)
    with pytest.raises(ValueError, match="interpolation='bicubic'"):
        layers.UpSampling2D(interpolation="bicubic")


@pytest.mark.parametrize("padding,widths", [(1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))),
                                            (((1, 0), (0, 3)), ((1, 0), (0, 3)))], ids=str)
def test_zero_padding_and_cropping_2d(backend, padding, widths):
    x = _r(8, 2, 5, 6, 3)
    pad = layers.ZeroPadding2D(padding)
    y = _run(backend, pad, x)
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0),) + widths + ((0, 0),)))
    assert pad.compute_output_shape((None, 5, 6, 3)) == (None,) + y.shape[1:]
    crop = layers.Cropping2D(padding)
    (t, b), (left, r) = widths
    z = _run(backend, crop, x)
    np.testing.assert_array_equal(z, x[:, t:5 - b, left:6 - r])
    assert crop.compute_output_shape((None, 5, 6, 3)) == (None,) + z.shape[1:]
    first = layers.ZeroPadding2D(padding, data_format="channels_first")
    np.testing.assert_array_equal(_run(backend, first, x.transpose(0, 3, 1, 2)),
                                  y.transpose(0, 3, 1, 2))


def test_zero_padding_and_cropping_1d(backend):
    x = _r(9, 2, 6, 3)
    np.testing.assert_array_equal(_run(backend, layers.ZeroPadding1D((2, 1)), x),
                                  np.pad(x, ((0, 0), (2, 1), (0, 0))))
    np.testing.assert_array_equal(_run(backend, layers.ZeroPadding1D(), x),
                                  np.pad(x, ((0, 0), (1, 1), (0, 0))))
    first = layers.ZeroPadding1D(1, data_format="channels_first")
    np.testing.assert_array_equal(_run(backend, first, x.transpose(0, 2, 1)),
                                  np.pad(x, ((0, 0), (1, 1), (0, 0))).transpose(0, 2, 1))
    np.testing.assert_array_equal(_run(backend, layers.Cropping1D((2, 1)), x), x[:, 2:5])
    assert layers.Cropping1D().compute_output_shape((None, 6, 3)) == (None, 4, 3)
    with pytest.raises(ValueError, match=r"'cropping1d_\d'.*\(None, 6, 3\)"):
        layers.Cropping1D((3, 3))(x)


def test_gradients_flow_through_the_spatial_layers(backend):
    x = Tensor(backend.asarray(_r(10, 1, 4, 4, 2)), requires_grad=True)
    y = layers.Cropping2D(1)(layers.ZeroPadding2D(2)(layers.UpSampling2D()(x)))
    y.sum().backward()
    # every input pixel is repeated 2x2 times; the crop removes only padding
    np.testing.assert_array_equal(backend.to_numpy(x.grad), np.full((1, 4, 4, 2), 4.0))


def test_rank_errors_name_the_layer_and_both_shapes(backend):
    with pytest.raises(ValueError, match=r"'pool'.*expected ndim=4, found ndim=3.*\(None, 5, 3\)"):
        layers.MaxPooling2D(name="pool")(_r(0, 1, 5, 3))
    with pytest.raises(ValueError, match=r"'max_pooling1d'.*ndim=3.*\(None, 5, 5, 3\)"):
        layers.MaxPooling1D().build((None, 5, 5, 3))
    with pytest.raises(ValueError, match=r"'gp'.*ndim=4"):
        layers.GlobalAveragePooling2D(name="gp")(_r(0, 2, 3))
    with pytest.raises(ValueError, match=r"'up_sampling2d'.*\(None, 4\)"):
        layers.UpSampling2D()(_r(0, 2, 4))
    with pytest.raises(ValueError, match=r"zero or negative.*\(None, 1, 4, 2\)"):
        layers.MaxPooling2D(2).build((None, 1, 4, 2))
    with pytest.raises(ValueError, match="pool_size"):
        layers.MaxPooling2D(pool_size=(2, 0))
    with pytest.raises(ValueError, match="padding='full'"):
        layers.AveragePooling1D(padding="full")


CONFIG_CASES = [
    (layers.MaxPooling2D, dict(pool_size=(3, 2), strides=1, padding="same")),
    (layers.AveragePooling1D, dict(pool_size=3, data_format="channels_first")),
    (layers.GlobalAveragePooling2D, dict(keepdims=True)),
    (layers.UpSampling2D, dict(size=(2, 3), interpolation="bilinear")),
    (layers.ZeroPadding2D, dict(padding=((1, 2), (3, 4)))),
    (layers.Cropping1D, dict(cropping=(2, 0))),
]


@pytest.mark.parametrize("cls,kwargs", CONFIG_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_config_round_trip(cls, kwargs):
    cfg = json.loads(json.dumps(cls(**kwargs).get_config()))
    back = deserialize_layer({"class_name": cls.__name__, "config": cfg})
    assert type(back) is cls and json.loads(json.dumps(back.get_config())) == cfg
    alias = deserialize_layer({"class_name": "GlobalAvgPool1D", "config": {}})
    assert type(alias) is layers.GlobalAveragePooling1D
