"""``gpunet.ops.image`` against Keras 3.15's ``keras.ops.image`` (fixtures written by
``tests/fixtures/make_keras_ops_image.py``): outputs over the main argument combinations, the
gradients JAX computes, float64 finite-difference checks, Keras's error messages."""

from __future__ import annotations

import ast
import json
import os
import re

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd.gradcheck import check_grad
from gpunet.autograd.tensor import Tensor
from gpunet.ops import image

HERE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")
META = json.load(open(os.path.join(HERE, "ops_image.json")))
DATA = np.load(os.path.join(HERE, "ops_image.npz"))
CASES = META["cases"]
GRAD_CASES = [n for n, c in CASES.items() if c["grad"]]


def _kwargs(case: dict, name: str, backend=None) -> dict:
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}
    for k in case.get("array_kwargs", []):
        v = DATA[f"{name}/arg/{k}"]
        kw[k] = backend.asarray(v) if backend is not None else v
    return kw


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_keras(backend, name):
    case = CASES[name]
    x = DATA[f"{name}/x"]
    y = getattr(image, case["function"])(backend.asarray(x), **_kwargs(case, name, backend))
    expected = DATA[f"{name}/y"]
    assert isinstance(y, Tensor) and y.shape == expected.shape and y.dtype == expected.dtype
    got = backend.to_numpy(y.data)
    if expected.dtype.kind == "f":  # float32 rounding, relative to the values' magnitude
        scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-6 * scale)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradient_matches_jax(backend, name):
    case = CASES[name]
    x = Tensor(backend.asarray(DATA[f"{name}/x"]), requires_grad=True)
    y = getattr(image, case["function"])(x, **_kwargs(case, name, backend))
    y.backward(backend.asarray(DATA[f"{name}/w"]))
    got, expected = backend.to_numpy(x.grad), DATA[f"{name}/grad"]
    if case["function"] == "rgb_to_hsv":
        # where two channels tie for the largest (grey, black) the gradient is a choice of
        # subgradient: JAX splits it between the tied channels, gpunet's maximum gives it to
        # one; compare the other pixels
        rgb = np.moveaxis(DATA[f"{name}/x"], -3 if "cf" in name else -1, -1)
        top = rgb.max(-1, keepdims=True)
        untied = (rgb == top).sum(-1) == 1
        axis = -3 if "cf" in name else -1
        got, expected = (np.moveaxis(a, axis, -1)[untied] for a in (got, expected))
        assert untied.sum() >= untied.size - 2
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def _f64(shape, seed=0, low=0.05, high=0.95):
    return np.random.default_rng(seed).uniform(low, high, shape)


GRAD_CHECKS = [
    ("extract_patches", (1, 5, 4, 2), dict(size=(2, 2), strides=(1, 2), padding="same")),
    ("extract_patches", (2, 3, 5), dict(size=2, strides=1, dilation_rate=2,
                                        data_format="channels_first")),
    ("extract_patches_3d", (1, 3, 4, 3, 1), dict(size=2, strides=(1, 2, 1))),
    ("resize", (1, 4, 3, 2), dict(size=(6, 5))),
    ("resize", (5, 6, 1), dict(size=(3, 2), interpolation="bicubic", antialias=True)),
    ("resize", (2, 4, 5), dict(size=(3, 7), interpolation="lanczos3",
                               data_format="channels_first")),
    ("resize", (1, 5, 3, 1), dict(size=(2, 4), interpolation="nearest")),
    ("resize", (1, 3, 6, 2), dict(size=(4, 4), pad_to_aspect_ratio=True, fill_value=0.3)),
    ("resize", (1, 3, 6, 2), dict(size=(3, 2), crop_to_aspect_ratio=True)),
    ("pad_images", (1, 3, 2, 2), dict(top_padding=1, left_padding=2, target_height=5,
                                      target_width=4)),
    ("crop_images", (2, 5, 4), dict(top_cropping=1, bottom_cropping=1, left_cropping=0,
                                    right_cropping=2, data_format="channels_first")),
    ("rgb_to_grayscale", (1, 3, 2, 3), {}),
    ("rgb_to_hsv", (2, 3, 3), {}),
    ("rgb_to_hsv", (1, 3, 2, 3), dict(data_format="channels_first")),
    ("hsv_to_rgb", (2, 3, 3), {}),
    ("affine_transform", (2, 4, 5, 2), dict(transform=np.array(
        [[0.9, 0.3, 0.4, -0.2, 1.1, -0.35, 0, 0], [1.2, 0, -0.6, 0, 0.8, 0.55, 0, 0]]))),
    ("affine_transform", (2, 4, 3), dict(transform=np.array([0.8, -0.3, 1.2, 0.3, 0.8, -0.4,
                                                             0, 0]),
                                         fill_mode="reflect", data_format="channels_first")),
    ("gaussian_blur", (1, 5, 4, 2), dict(kernel_size=(3, 4), sigma=(0.9, 1.3))),
    ("gaussian_blur", (2, 4, 5), dict(data_format="channels_first")),
    ("sobel_edges", (1, 4, 5, 2), {}),
    ("sobel_edges", (1, 2, 3, 4), dict(data_format="channels_first")),
    ("perspective_transform", (2, 5, 6, 2), dict(
        start_points=np.array([[0, 0], [0, 4], [5, 0], [5, 4]]),
        end_points=np.array([[0.3, 0.2], [0.4, 3.6], [4.7, 0.1], [5, 4]]))),
    ("scale_and_translate", (1, 4, 5, 2), dict(
        output_shape=(1, 6, 3, 2), scale=np.array([1.4, 0.65]),
        translation=np.array([0.2, -0.3]), spatial_dims=(1, 2), method="cubic")),
    ("scale_and_translate", (5, 4), dict(
        output_shape=(3, 7), scale=np.array([0.6, 1.7]), translation=np.array([0.1, 0.4]),
        spatial_dims=(0, 1), method="lanczos3", antialias=False)),
]


@pytest.mark.parametrize("fn, shape, kwargs", GRAD_CHECKS)
def test_float64_gradient_check(backend, fn, shape, kwargs):
    x = _f64(shape, seed=len(shape) + len(kwargs))
    if fn == "hsv_to_rgb":  # keep hue away from the kinks of the piecewise-linear planes
        x[..., 0] = np.array([0.1, 0.27, 0.45, 0.58, 0.77, 0.9])[:x[..., 0].size].reshape(
            x[..., 0].shape)
    check_grad(lambda t: getattr(image, fn)(t, **kwargs), [x], backend=backend)


def test_ssim_float64_gradient_in_both_images(backend):
    a = _f64((1, 8, 7, 2), seed=1)
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.1, a.shape), 0, 1)
    check_grad(lambda x, y: image.ssim(x, y, filter_size=5, filter_sigma=1.0), [a, b],
               backend=backend)


def test_ssim_of_an_image_with_itself_is_one(backend):
    a = backend.asarray(_f64((2, 12, 12, 3)).astype("float32"))
    np.testing.assert_allclose(image.ssim(a, a).numpy(), [1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
def test_map_coordinates_float64_gradient_in_inputs_and_coordinates(backend, mode):
    x = _f64((4, 5), seed=4)
    # coordinates away from integers (the interpolation weights have kinks there)
    coords = np.array([[-1.3, 0.4, 1.7, 3.2, 4.6], [0.2, 2.6, -0.7, 4.4, 1.45]])
    check_grad(lambda a, c: image.map_coordinates(a, c, order=1, fill_mode=mode,
                                                  fill_value=0.3), [x, coords], backend=backend)


def test_map_coordinates_order0_gives_coordinates_a_zero_gradient(backend):
    c = Tensor(backend.asarray(np.array([[0.2, 1.6], [2.4, 0.7]])), requires_grad=True)
    x = Tensor(backend.asarray(_f64((3, 4))), requires_grad=True)
    image.map_coordinates(x, c, order=0).sum().backward()
    assert not backend.to_numpy(c.grad).any()
    expected = np.zeros((3, 4))
    expected[0, 2] = expected[2, 1] = 1.0  # the two picked pixels
    np.testing.assert_array_equal(backend.to_numpy(x.grad), expected)


@pytest.mark.parametrize("name", sorted(META["errors"]))
def test_errors_as_keras(name):
    err = META["errors"][name]
    assert err["type"] is not None
    x = np.ones(tuple(err["shape"]), err["dtype"])
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in err["kwargs"].items()}
    # Keras prints Python sets of names, whose order varies between runs: compare them as sets
    sets = re.compile(r"\{[^{}]*'[^{}]*\}")
    pattern = r"\{[^{}]*\}".join(re.escape(part) for part in sets.split(err["message"]))
    with pytest.raises({"ValueError": ValueError, "TypeError": TypeError}[err["type"]],
                       match=pattern) as info:
        getattr(image, err["function"])(x, **kwargs)
    got, expected = sets.findall(str(info.value)), sets.findall(err["message"])
    assert [ast.literal_eval(g) for g in got] == [ast.literal_eval(e) for e in expected]


def test_sobel_edges_wants_a_batch():
    # Keras's message from its symbolic shape check (its eager JAX path fails in a transpose)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid images rank: expected rank 4 (batch of images). Received: "
            "images.shape=[4, 4, 3]")):
        image.sobel_edges(np.ones((4, 4, 3), "float32"))


def test_crop_that_does_not_fit_raises():
    with pytest.raises(ValueError, match="does not fit"):
        image.crop_images(np.ones((4, 4, 1), "float32"), top_cropping=2, left_cropping=0,
                          target_height=3, target_width=2)


def test_every_keras_name_exists_or_is_left_out_with_a_reason():
    for name in META["names"]:
        if name in image.LEFT_OUT:
            assert len(image.LEFT_OUT[name]) > 15 and not hasattr(image, name)
        else:
            assert callable(getattr(image, name)), name
    assert set(image.__all__) <= set(META["names"])


def test_every_image_op_is_gradient_checked():
    # map_coordinates and ssim have their own checks below, elastic_transform in
    # test_image_ops_random
    checked = {fn for fn, _, _ in GRAD_CHECKS} | {"map_coordinates", "ssim",
                                                  "elastic_transform"}
    assert set(image.__all__) == checked


def test_namespace_is_reachable_as_keras_code_writes_it():
    from gpunet.ops import image as imported

    assert imported is ops.image and "image" in ops.__all__ and "image" not in ops.LEFT_OUT
    assert ops.image.resize is image.resize


def test_channels_default_follows_image_data_format(backend):
    import gpunet

    x = backend.asarray(_f64((1, 3, 6, 4)).astype("float32"))
    old = gpunet.config.image_data_format()
    gpunet.config.set_image_data_format("channels_first")
    try:
        y = image.resize(x, (3, 2))
    finally:
        gpunet.config.set_image_data_format(old)
    assert y.shape == (1, 3, 3, 2)
    ref = image.resize(x, (3, 2), data_format="channels_first")
    np.testing.assert_array_equal(backend.to_numpy(y.data), backend.to_numpy(ref.data))
