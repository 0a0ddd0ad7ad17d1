"""Activation, Dropout, Flatten, InputLayer / Input, and the Layer base class."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import activations
from gpunet import backend as B
from gpunet.autograd import Tensor
from gpunet.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer, KerasTensor, Layer


def _t(backend, a, dtype="float32"):
    return Tensor(backend.asarray(np.asarray(a, dtype=dtype)))


def _np(backend, t):
    return backend.to_numpy(t.data)


# -- Activation ----------------------------------------------------------------------------------


def test_activation_layer(backend):
    x = _t(backend, [[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(_np(backend, Activation("relu")(x)), [[0.0, 0.5, 2.0]])
    np.testing.assert_allclose(_np(backend, Activation(activations.relu6)(x * 4)),
                               [[0.0, 2.0, 6.0]])
    np.testing.assert_allclose(_np(backend, Activation(lambda t: t * 3)(x)), [[-3, 1.5, 6]])
    layer = Activation("hard_sigmoid")
    np.testing.assert_allclose(_np(backend, layer(x)), np.clip(np.array([[-1, .5, 2]]) / 6 + .5,
                                                               0, 1), rtol=1e-6)
    assert layer.compute_output_shape((None, 3, 2)) == (None, 3, 2)
    assert layer.get_config()["activation"] == "hard_sigmoid"
    assert Activation.from_config(layer.get_config()).activation is activations.hard_sigmoid
    assert layer.weights == [] and layer.name == "activation_3"  # the fourth Activation


def test_activation_layer_unknown_name():
    with pytest.raises(ValueError, match="'tanh'"):
        Activation("tanhh")


# -- Dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", None])
def test_dropout_rate_validation(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


def test_dropout_is_identity_at_inference(backend):
    x = _t(backend, np.random.default_rng(0).standard_normal((8, 5)))
    layer = Dropout(0.5)
    for training in (None, False):
        np.testing.assert_array_equal(_np(backend, layer(x, training=training)), _np(backend, x))
    np.testing.assert_array_equal(_np(backend, Dropout(0.0)(x, training=True)), _np(backend, x))


def test_dropout_in_training_keeps_one_minus_rate_and_rescales(backend):
    backend.seed(3)
    x = _t(backend, np.full((200, 500), 2.0))
    y = _np(backend, Dropout(0.3)(x, training=True))
    kept = y != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)  # 100k draws: std ~0.0015
    np.testing.assert_allclose(y[kept], 2.0 / 0.7, rtol=1e-6)
    assert y.mean() == pytest.approx(2.0, rel=0.02)  # expectation preserved
    assert not _np(backend, Dropout(1.0)(x, training=True)).any()


def test_dropout_noise_shape_broadcasts(backend):
    backend.seed(4)
    x = _t(backend, np.ones((6, 10, 4)))
    y = _np(backend, Dropout(0.5, noise_shape=(None, 1, 4))(x, training=True))
    assert np.all(y == y[:, :1, :])  # the same mask at every time step
    assert 0 < (y != 0).mean() < 1
    z = _np(backend, Dropout(0.5, noise_shape=[6, 10, 1])(x, training=True))
    assert np.all(z == z[..., :1])


def test_dropout_config():
    layer = Dropout(0.25, noise_shape=(None, 1), seed=5, name="drop")
    cfg = layer.get_config()
    assert cfg["rate"] == 0.25 and cfg["noise_shape"] == (None, 1) and cfg["seed"] == 5
    assert Dropout.from_config(cfg).get_config() == cfg
    assert layer.compute_output_shape((None, 3)) == (None, 3)


# -- Flatten -------------------------------------------------------------------------------------


def test_flatten_shapes(backend):
    x = np.arange(2 * 3 * 4 * 5, dtype="float32").reshape(2, 3, 4, 5)
    layer = Flatten()
    y = layer(_t(backend, x))
    assert y.shape == (2, 60)
    np.testing.assert_array_equal(_np(backend, y), x.reshape(2, 60))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)
    assert Flatten()(_t(backend, np.ones((3, 7)))).shape == (3, 7)


def test_flatten_rank_one_input_gives_n_by_one(backend):
    y = Flatten()(_t(backend, [1.0, 2.0, 3.0]))
    assert y.shape == (3, 1)
    np.testing.assert_array_equal(_np(backend, y), [[1], [2], [3]])
    assert Flatten().compute_output_shape((None,)) == (None, 1)


def test_flatten_channels_first_order_matches_channels_last(backend):
    x_last = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype("float32")
    x_first = np.transpose(x_last, (0, 3, 1, 2))  # the same images, NCHW
    a = _np(backend, Flatten()(_t(backend, x_last)))
    b = _np(backend, Flatten(data_format="channels_first")(_t(backend, x_first)))
    np.testing.assert_array_equal(a, b)


def test_flatten_gradient_and_config(backend):
    x = Tensor(backend.asarray(np.ones((2, 3, 2), "float32")), requires_grad=True)
    Flatten(data_format="channels_first")(x).sum().backward()
    np.testing.assert_array_equal(backend.to_numpy(x.grad), np.ones((2, 3, 2)))
    cfg = Flatten(name="f").get_config()
    assert cfg["data_format"] == "channels_last" and cfg["name"] == "f"
    assert Flatten.from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError, match="data_format"):
        Flatten(data_format="channels_middle")


def test_flatten_default_follows_image_data_format():
    B.set_image_data_format("channels_first")
    try:
        assert Flatten().data_format == "channels_first"
    finally:
        B.set_image_data_format("channels_last")
    assert Flatten().data_format == "channels_last"


# -- InputLayer / Input --------------------------------------------------------------------------


def test_input_returns_a_symbolic_tensor():
    t = Input((784,))
    assert isinstance(t, KerasTensor)
    assert t.shape == (None, 784) and t.dtype == "float32" and t.name == "input_layer"
    assert Input(shape=5, batch_size=8).shape == (8, 5)
    assert Input(batch_shape=(None, 2, 3), name="pixels").name == "pixels"
    assert Input((3,)).name == "input_layer_2"  # unique auto names
    assert "shape=(None, 784)" in repr(t)


def test_input_layer():
    layer = InputLayer(shape=(28, 28), dtype="float64")
    assert layer.batch_shape == (None, 28, 28) and layer.built and layer.dtype == "float64"
    cfg = layer.get_config()
    assert cfg["batch_input_shape"] == [None, 28, 28] and cfg["name"] == "input_layer"
    assert InputLayer.from_config(cfg).batch_shape == (None, 28, 28)
    assert InputLayer(input_shape=(4,)).batch_shape == (None, 4)  # Keras 2 spelling
    assert InputLayer(batch_input_shape=[2, 4]).batch_shape == (2, 4)
    assert InputLayer.from_config({"batch_shape": [None, 3]}).batch_shape == (None, 3)  # K3
    with pytest.raises(ValueError, match="shape"):
        InputLayer()


# -- Layer base class ----------------------------------------------------------------------------


class _Scale(Layer):
    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), "ones")
        self.count = self.add_weight("count", (), "zeros", trainable=False)

    def call(self, inputs, training=None):
        return inputs * self.w


def test_custom_layer_weights_and_trainable_flags(backend):
    layer = _Scale()
    y = layer(backend.asarray(np.array([[1.0, 2.0]], "float32")))  # arrays are wrapped
    np.testing.assert_allclose(_np(backend, y), [[1.0, 2.0]])
    assert layer.name == "__scale"
    assert [w.name for w in layer.trainable_weights] == ["w"]
    assert [w.name for w in layer.non_trainable_weights] == ["count"]
    assert [w.name for w in layer.weights] == ["w", "count"]
    layer.trainable = False
    layer.trainable = True
    assert [w.name for w in layer.trainable_weights] == ["w"]  # state stays non-trainable
    assert layer.input_shape_ == (None, 2)


def test_float64_inputs_are_cast_to_the_layer_dtype(backend):
    layer = Dense(2)
    y = layer(backend.asarray(np.ones((1, 3), "float64")))
    assert y.dtype == np.float32 and layer.kernel.dtype == np.float32
    wide = Dense(2, dtype="float64")
    assert wide(backend.asarray(np.ones((1, 3), "float32"))).dtype == np.float64
    assert wide.kernel.dtype == np.float64


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="'dense'.*isn't built"):
        Dense(3).count_params()


def test_input_shape_kwargs():
    assert Dense(2, input_dim=3).get_config()["batch_input_shape"] == [None, 3]
    assert Dense(2, input_shape=(5, 3), batch_size=4).get_config()["batch_input_shape"] == [
        4, 5, 3]


def test_seeded_dropout_repeats_its_masks_whatever_the_global_seed(backend):
    import gpunet

    x = Tensor(backend.asarray(np.ones((6, 50), "float32")))

    def masks(global_seed):
        gpunet.utils.set_random_seed(global_seed)
        layer = Dropout(0.5, seed=7)
        return [backend.to_numpy(layer(x, training=True).data) for _ in range(2)]

    a, b = masks(0), masks(123)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # the stream moves on between calls
    assert set(np.unique(a[0])) <= {0.0, 2.0} and 0.3 < (a[0] == 0).mean() < 0.7
    gpunet.utils.set_random_seed(0)
    u1 = backend.to_numpy(Dropout(0.5)(x, training=True).data)
    gpunet.utils.set_random_seed(1)
    u2 = backend.to_numpy(Dropout(0.5)(x, training=True).data)
    assert not np.array_equal(u1, u2)  # unseeded layers follow the global seed
