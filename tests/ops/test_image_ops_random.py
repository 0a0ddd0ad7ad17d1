"""``gpunet.ops.image.elastic_transform``: Keras's displacement smoothing and sampling on given
normal draws (fixture), seeds as Keras's rules, and gradients."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops import image
from gpunet.ops.image.elastic_ssim import elastic_warp, smooth_field

HERE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")
META = json.load(open(os.path.join(HERE, "ops_image.json")))["elastic"]
DATA = np.load(os.path.join(HERE, "ops_image.npz"))


@pytest.mark.parametrize("name", sorted(META))
def test_warp_of_given_draws_matches_keras(backend, name):
    case = META[name]
    sigma = case["sigma"]
    x = backend.asarray(DATA[f"{name}/x"])
    dx = smooth_field(backend.asarray(DATA[f"{name}/noise_x"] * np.float32(sigma)), sigma)
    dy = smooth_field(backend.asarray(DATA[f"{name}/noise_y"] * np.float32(sigma)), sigma)
    y = elastic_warp(gpunet.ops.convert_to_tensor(x), dx, dy, case["alpha"], "bilinear",
                     case["fill_mode"], 0.0)
    np.testing.assert_allclose(backend.to_numpy(y.data), DATA[f"{name}/y"], rtol=1e-5,
                               atol=1e-5)


def test_seeds_follow_keras_rules(backend):
    x = backend.asarray(np.random.default_rng(0).random((2, 12, 10, 3)).astype("float32"))
    a = image.elastic_transform(x, alpha=4.0, sigma=1.5, seed=3).numpy()
    b = image.elastic_transform(x, alpha=4.0, sigma=1.5, seed=3).numpy()
    c = image.elastic_transform(x, alpha=4.0, sigma=1.5, seed=4).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    gen = gpunet.random.SeedGenerator(7)
    d = image.elastic_transform(x, alpha=4.0, sigma=1.5, seed=gen).numpy()
    e = image.elastic_transform(x, alpha=4.0, sigma=1.5, seed=gen).numpy()
    assert gen.counter == 2 and np.abs(d - e).max() > 1e-3
    with pytest.raises(ValueError, match="`seed` must be an int"):
        image.elastic_transform(x, seed="3")


def test_no_displacement_is_identity_and_formats_agree(backend):
    x = np.random.default_rng(1).random((2, 9, 8, 3)).astype("float32")
    y = image.elastic_transform(backend.asarray(x), alpha=0.0, seed=1)
    np.testing.assert_array_equal(backend.to_numpy(y.data), x)
    cl = image.elastic_transform(backend.asarray(x), alpha=5.0, sigma=2.0, seed=9)
    cf = image.elastic_transform(backend.asarray(np.moveaxis(x, -1, 1)), alpha=5.0, sigma=2.0,
                                 seed=9, data_format="channels_first")
    np.testing.assert_allclose(np.moveaxis(backend.to_numpy(cf.data), 1, -1),
                               backend.to_numpy(cl.data), rtol=1e-6)
    single = image.elastic_transform(backend.asarray(x[0]), alpha=5.0, sigma=2.0, seed=9)
    assert single.shape == (9, 8, 3)


def test_displacement_moves_pixels_about_alpha_times_the_field(backend):
    # a horizontal ramp: the output minus the input is the horizontal displacement
    ramp = np.tile(np.arange(40, dtype="float64")[None, :, None], (40, 1, 1))[None]
    y = image.elastic_transform(backend.asarray(ramp), alpha=3.0, sigma=4.0, seed=5,
                                fill_mode="nearest")
    shift = (backend.to_numpy(y.data) - ramp)[0, 8:-8, 8:-8, 0]
    assert 0.05 < np.abs(shift).mean() < 10.0 and np.abs(shift).std() > 0.01


def test_float64_gradient_in_images(backend):
    x = np.random.default_rng(2).uniform(0.1, 0.9, (1, 6, 5, 2))
    check_grad(lambda t: image.elastic_transform(t, alpha=2.0, sigma=1.0, seed=11), [x],
               backend=backend)
