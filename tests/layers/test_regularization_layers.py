"""Noise layers (GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D) and
ActivityRegularization: identity at inference, noise statistics in training, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd import Tensor

ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def _t(backend, a, grad=False):
    return Tensor(backend.asarray(np.asarray(a, "float32")), requires_grad=grad)


def _np(backend, t):
    return backend.to_numpy(t.data)


NOISE = [lambda: layers.GaussianNoise(0.3), lambda: layers.GaussianDropout(0.3),
         lambda: layers.AlphaDropout(0.3), lambda: layers.SpatialDropout1D(0.3)]


@pytest.mark.parametrize("make", NOISE, ids=["gauss_noise", "gauss_drop", "alpha", "spatial"])
def test_identity_at_inference_and_noise_in_training(backend, make):
    x = np.random.default_rng(0).normal(size=(4, 5, 6)).astype("float32")
    layer = make()
    for training in (False, None):
        np.testing.assert_array_equal(_np(backend, layer(_t(backend, x), training=training)), x)
    assert not np.array_equal(_np(backend, layer(_t(backend, x), training=True)), x)
    assert layer.supports_masking


def test_gaussian_noise_statistics_and_gradient(backend):
    x = _t(backend, np.full((200, 500), 2.0), grad=True)
    y = layers.GaussianNoise(0.5)(x, training=True)
    noise = _np(backend, y) - 2.0
    assert abs(noise.mean()) < 0.01  # standard error 0.5 / sqrt(1e5) = 0.0016
    assert noise.std() == pytest.approx(0.5, rel=0.02)
    y.sum().backward()
    np.testing.assert_array_equal(_np(backend, Tensor(x.grad)), 1.0)


def test_gaussian_dropout_statistics_and_gradient(backend):
    x = _t(backend, np.ones((200, 500)), grad=True)
    y = layers.GaussianDropout(0.2)(x, training=True)
    out = _np(backend, y)
    assert abs(out.mean() - 1.0) < 0.01
    assert out.var() == pytest.approx(0.2 / 0.8, rel=0.03)  # rate / (1 - rate)
    y.sum().backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), out)  # d(x * noise)/dx = noise


def test_alpha_dropout_keeps_mean_and_variance(backend):
    rate = 0.2
    x = np.random.default_rng(1).normal(size=(200, 500)).astype("float32")
    y = _np(backend, layers.AlphaDropout(rate)(_t(backend, x), training=True))
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    b = -a * ALPHA_P * rate
    dropped = np.isclose(y, a * ALPHA_P + b, atol=1e-6)
    assert dropped.mean() == pytest.approx(rate, abs=0.01)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-6)
    assert abs(y.mean()) < 0.02 and y.var() == pytest.approx(1.0, rel=0.03)


def test_alpha_dropout_noise_shape_and_edge_rates(backend):
    x = np.random.default_rng(2).normal(size=(50, 4, 8)).astype("float32")
    y = _np(backend, layers.AlphaDropout(0.5, noise_shape=(None, 1, 8))(_t(backend, x),
                                                                        training=True))
    rate = 0.5
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    dropped = np.isclose(y, a * ALPHA_P - a * ALPHA_P * rate, atol=1e-6)
    assert (dropped == dropped[:, :1, :]).all()  # one draw per sample and feature
    for rate in (0.0, 1.0):
        np.testing.assert_array_equal(
            _np(backend, layers.AlphaDropout(rate)(_t(backend, x), training=True)), x)


@pytest.mark.parametrize("layer_cls,shape,data_format", [
    (layers.SpatialDropout1D, (300, 5, 4), None),
    (layers.SpatialDropout2D, (300, 3, 3, 4), "channels_last"),
    (layers.SpatialDropout2D, (300, 4, 3, 3), "channels_first"),
    (layers.SpatialDropout3D, (300, 2, 2, 2, 4), None)])
def test_spatial_dropout_drops_whole_channels(backend, layer_cls, shape, data_format):
    kw = {} if data_format is None else {"data_format": data_format}
    y = _np(backend, layer_cls(0.5, **kw)(_t(backend, np.ones(shape)), training=True))
    assert set(np.unique(y)) <= {0.0, 2.0}  # kept channels scaled by 1 / (1 - rate)
    ch = 1 if data_format == "channels_first" else -1
    maps = np.moveaxis(y, ch, 1).reshape(shape[0], 4, -1)
    assert (maps == maps[:, :, :1]).all()  # a channel is dropped everywhere or nowhere
    assert (maps[:, :, 0] == 0).mean() == pytest.approx(0.5, abs=0.06)


def test_noise_is_repeatable_with_a_seed(backend):
    x = np.zeros((3, 4), "float32")
    outs = []
    for _ in range(2):
        gpunet.utils.set_random_seed(7)
        outs.append(_np(backend, layers.GaussianNoise(1.0)(_t(backend, x), training=True)))
    np.testing.assert_array_equal(*outs)


def test_activity_regularization(backend):
    x = np.array([[1.0, -2.0], [3.0, 0.0]], "float32")
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    y = layer(_t(backend, x))
    np.testing.assert_array_equal(_np(backend, y), x)
    (penalty,) = layer.losses  # (0.1 * 6 + 0.01 * 14) / batch 2
    assert float(penalty.item()) == pytest.approx(0.37, rel=1e-6)
    cfg = layer.get_config()
    assert cfg["l1"] == 0.1 and cfg["l2"] == 0.01 and "activity_regularizer" not in cfg
    model = Sequential([layers.Input((2,)), layers.ActivityRegularization(l2=0.5)])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, np.zeros_like(x), verbose=0)
    assert loss == pytest.approx((x ** 2).mean() + 0.5 * 14 / 2, rel=1e-5)


def test_noise_layers_in_a_model_round_trip(backend, tmp_path, round_trip):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 2, 6)).astype("float32"), rng.normal(size=(8, 2)).astype(
        "float32")
    model = Sequential([layers.Input((2, 6)), layers.GaussianNoise(0.1),
                        layers.SpatialDropout1D(0.2), layers.Flatten(), layers.Dense(4),
                        layers.GaussianDropout(0.1), layers.AlphaDropout(0.1),
                        layers.ActivityRegularization(l1=0.01), layers.Dense(2)])
    round_trip(model, x, y, tmp_path)


def test_errors(backend):
    for cls in (layers.GaussianDropout, layers.AlphaDropout, layers.SpatialDropout1D,
                layers.SpatialDropout2D):
        with pytest.raises(ValueError, match=rf"{cls.__name__}.*between 0 and 1.*rate=1.5"):
            cls(1.5)
    with pytest.raises(ValueError, match=r"GaussianNoise.*stddev=-0.1"):
        layers.GaussianNoise(-0.1)
    with pytest.raises(ValueError, match=r"GaussianDropout.*below 1"):
        layers.GaussianDropout(1.0)
    with pytest.raises(ValueError, match=r"data_format.*Received: data_format='nhwc'"):
        layers.SpatialDropout2D(0.1, data_format="nhwc")
    with pytest.raises(ValueError, match=r"'sd'.*expected ndim=4, found ndim=3.*\(None, 2, 3\)"):
        layers.SpatialDropout2D(0.1, name="sd")(_t(backend, np.ones((1, 2, 3))))
    with pytest.raises(ValueError, match="l1"):
        layers.ActivityRegularization(l1=-1.0)
    assert "data_format" not in layers.SpatialDropout1D(0.1).get_config()
