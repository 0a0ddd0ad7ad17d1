"""``gpunet.ops.image`` on Functional-API KerasTensors: each op records a layer whose output
equals the eager op, the model's config round-trips, and a small patch model trains."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.ops import image


@pytest.mark.parametrize("fn, shape, kwargs", [
    ("extract_patches", (8, 8, 3), dict(size=4)),
    ("extract_patches", (3, 7, 6), dict(size=(2, 3), strides=1, padding="same",
                                        data_format="channels_first")),
    ("extract_patches_3d", (4, 4, 4, 2), dict(size=2)),
    ("resize", (5, 7, 3), dict(size=(8, 4), interpolation="bicubic", antialias=True)),
    ("resize", (5, 7, 3), dict(size=(4, 4), crop_to_aspect_ratio=True)),
    ("pad_images", (5, 7, 3), dict(top_padding=1, bottom_padding=2, left_padding=0,
                                   right_padding=1)),
    ("crop_images", (5, 7, 3), dict(top_cropping=1, left_cropping=2, target_height=3,
                                    target_width=4)),
    ("rgb_to_grayscale", (5, 7, 3), {}),
    ("rgb_to_hsv", (5, 7, 3), {}),
    ("hsv_to_rgb", (5, 7, 3), {}),
    ("affine_transform", (5, 7, 3), dict(transform=np.array([1.1, 0.2, -0.5, 0.1, 0.9, 0.3,
                                                             0, 0], "float32"),
                                         fill_mode="wrap")),
    ("gaussian_blur", (5, 7, 3), dict(kernel_size=(5, 3), sigma=(1.2, 0.8))),
    ("sobel_edges", (5, 7, 3), {}),
    ("perspective_transform", (5, 7, 3), dict(
        start_points=np.array([[0, 0], [0, 4], [6, 0], [6, 4]], "float32"),
        end_points=np.array([[0.5, 0], [0, 4], [6, 0.4], [5.5, 4]], "float32"))),
    ("scale_and_translate", (5, 7, 3), dict(
        output_shape=(None, 8, 4, 3), scale=np.array([1.5, 0.6], "float32"),
        translation=np.array([0.2, 0.1], "float32"), spatial_dims=(1, 2), method="linear")),
    ("elastic_transform", (5, 7, 3), dict(alpha=3.0, sigma=1.0, seed=4)),
])
def test_op_on_keras_tensor_equals_eager(fn, shape, kwargs):
    x = np.random.default_rng(1).random((2,) + shape).astype("float32")
    inp = layers.Input(shape)
    out = getattr(image, fn)(inp, **kwargs)
    eager = getattr(image, fn)(x, **kwargs)
    assert tuple(out.shape) == (None,) + tuple(eager.shape[1:])
    model = gpunet.Model(inp, out)
    np.testing.assert_allclose(model.predict(x, verbose=0), eager.numpy(), rtol=1e-6,
                               atol=1e-7)
    clone = gpunet.Model.from_config(model.get_config())
    np.testing.assert_allclose(clone.predict(x, verbose=0), eager.numpy(), rtol=1e-6,
                               atol=1e-7)


def test_ssim_of_two_keras_tensors():
    rng = np.random.default_rng(5)
    a, b = rng.random((2, 12, 11, 3)).astype("float32"), rng.random((2, 12, 11, 3)).astype(
        "float32")
    i1, i2 = layers.Input((12, 11, 3)), layers.Input((12, 11, 3))
    model = gpunet.Model([i1, i2], image.ssim(i1, i2, filter_size=5))
    np.testing.assert_allclose(model.predict([a, b], verbose=0),
                               image.ssim(a, b, filter_size=5).numpy(), rtol=1e-5)


def test_map_coordinates_on_a_keras_tensor():
    x = np.random.default_rng(2).random((2, 4, 5)).astype("float32")
    coords = np.array([[0, 1, 1.0], [0.5, 2.5, 3.2], [1.5, 0.2, 4.4]], "float32")
    inp = layers.Input((4, 5), batch_size=2)
    model = gpunet.Model(inp, image.map_coordinates(inp, coords, order=1))
    np.testing.assert_allclose(model.predict(x, verbose=0, batch_size=2),
                               image.map_coordinates(x, coords, order=1).numpy(), rtol=1e-6)


def test_patch_model_with_resize_trains():
    gpunet.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((64, 12, 12, 3)).astype("float32")
    y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype("int64")
    inp = layers.Input((12, 12, 3))
    h = image.resize(inp, (8, 8))
    h = image.extract_patches(h, 4)                       # (2, 2, 48)
    h = layers.Reshape((4, 48))(h)
    h = layers.Dense(16, activation="relu")(h)
    h = layers.Flatten()(h)
    out = layers.Dense(2, activation="softmax")(h)
    model = gpunet.Model(inp, out)
    model.compile(optimizer=gpunet.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * first
    assert [type(lay).__name__ for lay in model.layers].count("OpLambda") == 2
