"""ImageDataGenerator against Keras 3.15's own numbers (tests/fixtures/image.npz).

The fixture is written by tests/fixtures/make_keras_image.py, which runs Keras's legacy
`ImageDataGenerator` (SciPy's `affine_transform` underneath); these tests need neither.
"""

import json
import os

import numpy as np
import pytest

from gpunet.preprocessing import image
from gpunet.preprocessing.image import ImageDataGenerator, apply_brightness_shift

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "image.npz")
FORMATS = ("channels_last", "channels_first")


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def to_format(x, data_format):
    return x if data_format == "channels_last" else np.moveaxis(x, -1, -3)


def has_scipy():
    try:
        import scipy.ndimage  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("shape", ["square", "wide", "tall"])
def test_apply_transform_matches_keras(ref, backend, shape, data_format):
    transforms = json.loads(str(ref["transforms"]))
    fills = json.loads(str(ref["fills"]))
    img = to_format(ref[f"img_{shape}"], data_format)
    want = ref[f"apply_{shape}_{data_format}"]
    for i, (mode, cval, order) in enumerate(fills):
        if order > 1 and not has_scipy():
            continue  # spline orders are handed to SciPy
        gen = ImageDataGenerator(fill_mode=mode, cval=cval, interpolation_order=order,
                                 data_format=data_format)
        for j, params in enumerate(transforms):
            got = gen.apply_transform(img.copy(), params)
            np.testing.assert_allclose(got, want[i, j], atol=1e-5,
                                       err_msg=f"{params} {mode} cval={cval} order={order}")


def test_non_square_rotation_uses_keras_centre(ref):
    """Keras centres its (col, row) matrix at col=(h-1)/2, row=(w-1)/2 (the axes are swapped
    after centring): a 90-degree turn of a 5x8 image is not about the image centre."""
    img = ref["img_wide"]
    gen = ImageDataGenerator(fill_mode="constant", cval=0.3)  # the fixture's fills[1]
    got = gen.apply_transform(img, {"theta": 90.0})
    # By hand, centre x0 = (5-1)/2 = 2 (columns), y0 = (8-1)/2 = 3.5 (rows), rotation
    # [[0, -1], [1, 0]]: input col = 2 - (r - 3.5), input row = 3.5 + (c - 2). Output (1, 0)
    # reads col 4.5, row 1.5: the mean of rows 1-2, columns 4-5.
    np.testing.assert_allclose(got[1, 0], img[1:3, 4:6].mean(axis=(0, 1)), atol=1e-6)
    # output (0, 3) reads row 4.5 > 4: outside, so cval (about the image centre it would read
    # row 1.5, inside)
    np.testing.assert_allclose(got[0, 3], 0.3, rtol=1e-7)
    np.testing.assert_allclose(got, ref["apply_wide_channels_last"][1, 1], atol=1e-5)


def test_brightness_within_one_grey_level_of_keras(ref):
    img = ref["bright_img"]  # whole numbers in [0, 255]
    gen = ImageDataGenerator()
    for k, factor in enumerate((0.6, 1.3)):
        got = gen.apply_transform(img, {"brightness": factor})
        np.testing.assert_allclose(got, np.minimum(img * factor, 255), rtol=1e-6)
        # Keras rounds through an 8-bit image: it truncates, so it is at most one level lower
        diff = got - ref["bright_255"][k]
        assert diff.min() >= -1e-4 and diff.max() < 1.0
    # the documented difference: Keras 3.15 turns a [0, 1] float image black (0 or 1 only)
    unit = img / 255
    assert set(np.unique(ref["bright_unit"])) <= {0.0, 1.0}
    np.testing.assert_allclose(gen.apply_transform(unit, {"brightness": 1.3}), unit * 1.3,
                               rtol=1e-6)
    np.testing.assert_allclose(apply_brightness_shift(unit, 1.3, scale=False), unit * 1.3,
                               rtol=1e-6)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("name", ["std_rescale", "std", "center_rescale", "aug"])
def test_fit_and_standardize_match_keras(ref, backend, data_format, name):
    cfg = {
        "std_rescale": dict(featurewise_center=True, featurewise_std_normalization=True,
                            rescale=1 / 255),
        "std": dict(featurewise_center=True, featurewise_std_normalization=True),
        "center_rescale": dict(featurewise_center=True, rescale=1 / 255),
        "aug": dict(featurewise_center=True, featurewise_std_normalization=True,
                    rescale=1 / 255, rotation_range=30, zoom_range=0.2, horizontal_flip=True),
    }[name]
    gen = ImageDataGenerator(data_format=data_format, **cfg)
    kwargs = dict(augment=True, rounds=2, seed=3) if name == "aug" else {}
    gen.fit(to_format(ref["fit_x"], data_format), **kwargs)
    key = f"fit_{name}_{data_format}"
    scale = 255.0 if "rescale" in name or name == "aug" else 1.0
    np.testing.assert_allclose(gen.mean, ref[key + "_mean"], atol=1e-5 * scale, rtol=1e-6)
    if key + "_std" in ref:
        np.testing.assert_allclose(gen.std, ref[key + "_std"], atol=1e-5 * scale, rtol=1e-5)
    got = gen.standardize(to_format(ref["fit_probe"], data_format).copy())
    np.testing.assert_allclose(got, ref[key + "_out"], atol=1e-5, rtol=1e-5)


def test_fit_rescales_before_the_statistics(ref):
    """The issue's recipe: centre + std with rescale=1/255 gives mean 0 and std 1."""
    x = ref["fit_x"]
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                             rescale=1 / 255)
    gen.fit(x)
    out = gen.standardize(x.copy())
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-4)


@pytest.mark.parametrize("name", ["zca_rescale", "zca"])
def test_zca_matches_keras(ref, backend, name):
    cfg = dict(rescale=1 / 255, zca_epsilon=1e-2) if name == "zca_rescale" else {}
    with pytest.warns(UserWarning, match="featurewise_center"):
        gen = ImageDataGenerator(zca_whitening=True, **cfg)
    gen.fit(ref["zca_x"])
    np.testing.assert_allclose(gen.mean, ref[f"{name}_mean"], atol=1e-5, rtol=1e-6)
    want = ref[f"{name}_matrix"]  # Keras computes it in float32, gpunet in float64
    np.testing.assert_allclose(gen.zca_whitening_matrix, want, atol=1e-4 * np.abs(want).max())
    assert gen.principal_components is gen.zca_whitening_matrix
    got = gen.standardize(ref["zca_probe"].copy())
    want = ref[f"{name}_out"]
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("name", ["geometry", "shifts", "shift_lists"])
def test_seeded_random_transform_matches_keras(ref, backend, data_format, name):
    cfg = json.loads(str(ref["random_configs"]))[name]
    if isinstance(cfg.get("zoom_range"), list):
        cfg["zoom_range"] = tuple(cfg["zoom_range"])
    gen = ImageDataGenerator(data_format=data_format, **cfg)
    img = to_format(ref["rand_img"], data_format)
    state = np.random.get_state()[1].copy()
    got = np.stack([gen.random_transform(img, seed=s) for s in range(4)])
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global state untouched
    np.testing.assert_allclose(got, ref[f"rand_{name}_{data_format}"], atol=1e-5)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("name", ["geometry", "shifts", "shift_lists"])
def test_seeded_flow_batches_match_keras(ref, backend, data_format, name):
    cfg = json.loads(str(ref["random_configs"]))[name]
    if isinstance(cfg.get("zoom_range"), list):
        cfg["zoom_range"] = tuple(cfg["zoom_range"])
    gen = ImageDataGenerator(data_format=data_format, samplewise_center=True, **cfg)
    x = to_format(ref["flow_x"], data_format)
    it = gen.flow(x, np.arange(10), batch_size=4, seed=5)
    batches = [it[0], it[1], it[2]]
    it2 = gen.flow(x, np.arange(10), batch_size=4, seed=5)
    batches += [next(it2) for _ in range(4)]
    key = f"flow_{name}_{data_format}"
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), ref[key + "_y"])
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), ref[key + "_x"],
                               atol=1e-5)


AXES = [(1, 2, 0), (2, 1, 0), (0, 1, 2), (1, 0, 2)]  # as in make_keras_image.py


def test_standalone_apply_affine_transform_every_axis_order(ref):
    img = ref["solo_img"]
    want = ref["solo_affine"]
    k = 0
    for row_axis, col_axis, channel_axis in AXES:
        x = np.transpose(img, np.argsort((row_axis, col_axis, channel_axis)))
        for order in (0, 1):
            got = image.apply_affine_transform(
                x, theta=35.0, tx=1.3, ty=-0.6, shear=12.0, zx=0.9, zy=1.2, row_axis=row_axis,
                col_axis=col_axis, channel_axis=channel_axis, fill_mode="reflect", order=order)
            np.testing.assert_allclose(np.transpose(got, (row_axis, col_axis, channel_axis)),
                                       want[k], atol=1e-5, err_msg=f"axes {row_axis, col_axis}")
            k += 1
    with pytest.raises(ValueError, match="channel_axis"):
        image.apply_affine_transform(img, theta=10, row_axis=0, col_axis=2, channel_axis=1)


def test_standalone_random_functions_follow_keras_global_draws(ref):
    chw = np.moveaxis(ref["solo_img"], -1, 0)
    state = np.random.get_state()
    try:
        np.random.seed(4)
        got = {
            "rotation": image.random_rotation(chw, 50, fill_mode="constant", cval=0.2),
            "shear": image.random_shear(chw, 25),
            "zoom": image.random_zoom(chw, (0.6, 1.3), fill_mode="wrap"),
            "channel_shift": image.random_channel_shift(chw, 0.3),
        }
    finally:
        np.random.set_state(state)
    for name, value in got.items():
        np.testing.assert_allclose(value, ref[f"solo_{name}"], atol=1e-5, err_msg=name)
    np.testing.assert_allclose(image.apply_channel_shift(ref["solo_img"], -0.25, channel_axis=2),
                               ref["solo_channel_shift_fixed"], atol=1e-6)


def test_standalone_brightness_scale_true_stretches_like_keras(ref):
    x = np.floor(ref["solo_img"] * 256) * 0.5 + 20  # values in [20, 147.5]
    got = image.apply_brightness_shift(x, 1.4)  # scale=True: stretched to [0, 255] first
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(got, np.clip((x - lo) / (hi - lo) * 255 * 1.4, 0, 255),
                               rtol=1e-5, atol=1e-4)
    diff = got - ref["solo_bright_scale"]  # Keras truncates twice through 8-bit images
    assert diff.min() >= -1e-3 and diff.max() < 2.4


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_whole_pixel_fast_path_equals_bilinear_sampling(fill_mode):
    """Whole-pixel shifts take one gather (order 0); bilinear sampling gives the same numbers."""
    from gpunet.layers.preprocessing._scipy_warp import sample_like_scipy, warp_like_scipy

    rng = np.random.default_rng(0)
    imgs = rng.random((3, 5, 6, 2)).astype(np.float32)
    m = np.tile(np.eye(3), (3, 1, 1))
    m[:, 0, 2] = [2, -7, 0]  # column offsets (output c -> input c + t)
    m[:, 1, 2] = [1, 0, -3]
    got = warp_like_scipy(imgs, m, fill_mode, -1.0, order=1)
    r, c = np.indices((5, 6), dtype=np.float64).reshape(2, 1, -1)
    rows, cols = r + m[:, 1, 2, None], c + m[:, 0, 2, None]
    want = sample_like_scipy(imgs, rows, cols, fill_mode, -1.0, order=1).reshape(imgs.shape)
    np.testing.assert_array_equal(got, want)
    assert (got != imgs).any()


def test_spline_orders_need_scipy(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy", None)
    gen = ImageDataGenerator(interpolation_order=3)
    with pytest.raises(ImportError, match="pip install scipy"):
        gen.apply_transform(np.zeros((4, 4, 1), np.float32), {"theta": 10})
    out = ImageDataGenerator(interpolation_order=1).apply_transform(
        np.ones((4, 4, 1), np.float32), {"theta": 10})
    np.testing.assert_allclose(out, 1.0)  # orders 0 and 1 need only NumPy
