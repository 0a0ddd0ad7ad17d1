"""Preprocessing layers give Keras 3's outputs on the same inputs (values computed by Keras
itself, tests/fixtures/make_keras_preprocessing.py)."""

from __future__ import annotations

import pathlib

import numpy as np

from gpunet import layers
from gpunet.autograd.tensor import Tensor

FIX = np.load(pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "preprocessing.npz")


def _run(layer, x, backend):
    out = layer(Tensor(backend.asarray(x)))
    return backend.to_numpy(getattr(out, "data", out))


def test_normalization_adapt(backend):
    norm = layers.Normalization()
    norm.adapt(FIX["norm_x"])
    np.testing.assert_allclose(_run(norm, FIX["norm_x"][:5], backend), FIX["norm"], rtol=1e-5,
                               atol=1e-5)


def test_discretization_and_category_encoding(backend):
    disc = layers.Discretization(bin_boundaries=[2.0, 5.0, 7.5])
    np.testing.assert_array_equal(_run(disc, FIX["disc_x"][:10], backend), FIX["disc"])
    ce = layers.CategoryEncoding(num_tokens=5, output_mode="count")
    np.testing.assert_allclose(_run(ce, np.array([[0, 1, 1, 4], [2, 2, 2, 3]]), backend),
                               FIX["ce"])


def test_image_layers(backend):
    img = FIX["img"]
    for interp in ("bilinear", "nearest"):
        got = _run(layers.Resizing(4, 5, interpolation=interp), img, backend)
        np.testing.assert_allclose(got, FIX[f"resize_{interp}"], rtol=1e-4, atol=1e-3,
                                   err_msg=interp)
    np.testing.assert_allclose(_run(layers.Resizing(4, 4, crop_to_aspect_ratio=True), img,
                                    backend), FIX["resize_crop"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(_run(layers.CenterCrop(4, 6), img, backend), FIX["center_crop"],
                               rtol=1e-6)
    np.testing.assert_allclose(_run(layers.Rescaling(1 / 127.5, offset=-1), img, backend),
                               FIX["rescale"], rtol=1e-6, atol=1e-6)
