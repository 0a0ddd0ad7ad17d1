"""ImageDataGenerator: every augmentation against hand-computed pixel positions and values."""

import sys

import numpy as np
import pytest

from gpunet.preprocessing import image
from gpunet.preprocessing.image import ImageDataGenerator, apply_affine_transform


def dot_image(h=9, w=9, r=4, c=4):
    x = np.zeros((h, w, 1), dtype=np.float32)
    x[r, c, 0] = 1.0
    return x


def bright_pixels(batch):
    return [tuple(np.argwhere(img[..., 0] > 0.5)[0]) for img in batch]


def ramp(h, w, row_weight=10.0, col_weight=1.0):
    r, c = np.indices((h, w), dtype=np.float64)
    return (row_weight * r + col_weight * c)[..., None]


# --------------------------------------------------------------------------- shifts
def test_apply_transform_shift_moves_content_by_minus_tx_and_minus_ty():
    gen = ImageDataGenerator(fill_mode="constant")
    out = gen.apply_transform(dot_image(), {"tx": 2})
    assert bright_pixels([out]) == [(4, 2)]  # output[r, c] = input[r, c + 2]
    out = gen.apply_transform(dot_image(), {"ty": -3})
    assert bright_pixels([out]) == [(7, 4)]
    assert out.sum() == 1.0  # integer shifts are exact with bilinear sampling


def test_width_shift_range_integer_list_moves_exactly_two_pixels():
    gen = ImageDataGenerator(width_shift_range=[2], fill_mode="constant")
    x = np.repeat(dot_image()[None], 16, axis=0)
    batch = gen.flow(x, batch_size=16, shuffle=False, seed=1)[0]
    positions = bright_pixels(batch)
    assert {p[0] for p in positions} == {4}  # rows untouched
    assert {p[1] for p in positions} == {2, 6}  # +-2 columns, both signs drawn
    np.testing.assert_allclose(batch.sum(axis=(1, 2, 3)), 1.0)


def test_integer_shift_ranges_draw_from_choice_times_sign():
    gen = ImageDataGenerator(height_shift_range=3, fill_mode="constant")
    x = np.repeat(dot_image()[None], 32, axis=0)
    positions = bright_pixels(gen.flow(x, batch_size=32, shuffle=False, seed=0)[0])
    assert {p[1] for p in positions} == {4}
    assert {p[0] for p in positions} <= {2, 3, 4, 5, 6}  # choice(0..2) * +-1 rows
    assert len({p[0] for p in positions}) >= 3


@pytest.mark.parametrize("hsr, wsr", [(3, 2), ([1, 4], [0.1, 0.3]), (2, 0.2)])
def test_shift_draws_follow_keras_choice_stream(hsr, wsr):
    """The exact sequence Keras draws with ``np.random.choice`` for int and list ranges."""
    gen = ImageDataGenerator(height_shift_range=hsr, width_shift_range=wsr)
    rs = np.random.RandomState(11)

    def keras_draw(r, size):
        try:
            t = rs.choice(r)
            t = t * rs.choice([-1, 1])
        except ValueError:
            t = rs.uniform(-r, r)
        return t * size if np.max(r) < 1 else t

    rng = np.random.RandomState(11)
    for _ in range(50):  # per image Keras draws ty, tx, then the two flip coins
        want_ty, want_tx = keras_draw(hsr, 10), keras_draw(wsr, 20)
        rs.random_sample(), rs.random_sample()
        p = gen._draw_params((10, 20, 1), rng)
        assert p["ty"] == pytest.approx(want_ty) and p["tx"] == pytest.approx(want_tx)


def test_fraction_shift_scales_with_image_size_in_keras_draw_order():
    gen = ImageDataGenerator(width_shift_range=0.25, height_shift_range=0.5)
    params = gen.get_random_transform((6, 8, 1), seed=5)
    rs = np.random.RandomState(5)
    ty = rs.uniform(-0.5, 0.5) * 6  # height first, as Keras draws it
    tx = rs.uniform(-0.25, 0.25) * 8
    assert params["ty"] == pytest.approx(ty) and params["tx"] == pytest.approx(tx)


def test_random_draws_follow_keras_order():
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.1, height_shift_range=0.2,
                             shear_range=5, zoom_range=0.1, horizontal_flip=True,
                             vertical_flip=True, channel_shift_range=3.0,
                             brightness_range=(0.8, 1.2))
    state = np.random.get_state()[1].copy()
    p = gen.get_random_transform((10, 20, 3), seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global state untouched
    rs = np.random.RandomState(7)
    theta = rs.uniform(-30, 30)
    ty = rs.uniform(-0.2, 0.2) * 10
    tx = rs.uniform(-0.1, 0.1) * 20
    shear = rs.uniform(-5, 5)
    zx, zy = rs.uniform(0.9, 1.1, 2)
    fh, fv = rs.random_sample() < 0.5, rs.random_sample() < 0.5
    cs = rs.uniform(-3, 3)
    br = rs.uniform(0.8, 1.2)
    assert p["theta"] == pytest.approx(theta) and p["shear"] == pytest.approx(shear)
    assert (p["tx"], p["ty"]) == pytest.approx((tx, ty))
    assert (p["zx"], p["zy"]) == pytest.approx((zx, zy))
    assert (p["flip_horizontal"], p["flip_vertical"]) == (fh, fv)
    assert p["channel_shift_intensity"] == pytest.approx(cs)
    assert p["brightness"] == pytest.approx(br)
    # flips coins are drawn even when flips are off, so later draws keep their place
    gen2 = ImageDataGenerator(channel_shift_range=3.0)
    rs = np.random.RandomState(7)
    rs.random_sample(), rs.random_sample()
    assert gen2.get_random_transform((4, 4, 1), seed=7)["channel_shift_intensity"] == \
        pytest.approx(rs.uniform(-3, 3))


# --------------------------------------------------------------------------- rotation/flip
def test_rotation_by_90_moves_pixel_r_c_to_n_minus_1_minus_c_r():
    gen = ImageDataGenerator(fill_mode="constant")
    x = ramp(5, 5).astype(np.float32)
    out = gen.apply_transform(x, {"theta": 90})
    for r, c in [(0, 0), (1, 3), (4, 2), (2, 2)]:
        assert out[5 - 1 - c, r, 0] == pytest.approx(x[r, c, 0], abs=1e-4)
    np.testing.assert_allclose(out[..., 0], np.rot90(x[..., 0]), atol=1e-4)
    out = gen.apply_transform(x, {"theta": -90})
    np.testing.assert_allclose(out[..., 0], np.rot90(x[..., 0], k=-1), atol=1e-4)


def test_flips_and_random_horizontal_flip():
    gen = ImageDataGenerator()
    x = ramp(3, 4).astype(np.float32)
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    gen = ImageDataGenerator(horizontal_flip=True)
    batch = gen.flow(np.repeat(x[None], 20, axis=0), batch_size=20, shuffle=False, seed=2)[0]
    flipped = [bool(np.array_equal(b, x[:, ::-1])) for b in batch]
    kept = [bool(np.array_equal(b, x)) for b in batch]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


# --------------------------------------------------------------------------- zoom/shear
def test_zoom_samples_about_the_centre():
    gen = ImageDataGenerator()
    x = ramp(5, 5)
    r, c = np.indices((5, 5))
    out = gen.apply_transform(x, {"zx": 0.5, "zy": 0.5})[..., 0]
    np.testing.assert_allclose(out, 10 * (2 + 0.5 * (r - 2)) + (2 + 0.5 * (c - 2)), atol=1e-5)
    out = gen.apply_transform(x, {"zx": 0.5})[..., 0]  # zx acts on columns only
    np.testing.assert_allclose(out, 10 * r + (2 + 0.5 * (c - 2)), atol=1e-5)
    gen = ImageDataGenerator(fill_mode="constant", cval=-1)
    out = gen.apply_transform(x, {"zx": 2.0, "zy": 2.0})[..., 0]  # zoom out
    assert out[0, 2] == -1 and out[1, 1] == 0 and out[2, 2] == 22 and out[3, 3] == 44


def test_shear_offsets_columns_by_minus_sin_times_row():
    gen = ImageDataGenerator(fill_mode="nearest")
    x = ramp(7, 9, row_weight=0.0)  # value = column index
    out = gen.apply_transform(x, {"shear": 30})[..., 0]
    r, c = np.indices((7, 9))
    # Keras centres its (x=col, y=row) matrix at x=(h-1)/2=3, y=(w-1)/2=4, then swaps the axes
    # for SciPy: on this 7x9 image the shear pivots about row 4, not the middle row 3.
    np.testing.assert_allclose(out, np.clip(c - 0.5 * (r - 4), 0, 8), atol=1e-5)


# --------------------------------------------------------------------------- fill modes
ROW = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)


@pytest.mark.parametrize("mode, expected", [
    ("constant", [9, 9, 1, 2]),
    ("nearest", [1, 1, 1, 2]),
    ("reflect", [2, 1, 1, 2]),   # d c b a | a b c d
    ("wrap", [2, 3, 1, 2]),      # SciPy's "wrap" (Keras 3.15): period n - 1, b c d | a b c d
])
def test_fill_modes_integer_shift(mode, expected):
    gen = ImageDataGenerator(fill_mode=mode, cval=9)
    out = gen.apply_transform(ROW, {"tx": -2})  # output[c] = input[c - 2]
    np.testing.assert_allclose(out.ravel(), expected)


@pytest.mark.parametrize("mode, expected", [
    ("constant", [2.5, 3.5, 9, 9]),
    ("nearest", [2.5, 3.5, 4, 4]),
    ("reflect", [2.5, 3.5, 4, 3.5]),
    ("wrap", [2.5, 3.5, 1.5, 2.5]),  # positions 4.5 -> 1.5 and 5.5 -> 2.5 (period 3)
])
def test_fill_modes_fractional_shift_bilinear(mode, expected):
    gen = ImageDataGenerator(fill_mode=mode, cval=9)
    out = gen.apply_transform(ROW, {"tx": 1.5})  # output[c] = input[c + 1.5]
    np.testing.assert_allclose(out.ravel(), expected)


def test_interpolation_order_zero_is_nearest_neighbour():
    nearest = ImageDataGenerator(fill_mode="nearest", interpolation_order=0)
    np.testing.assert_array_equal(nearest.apply_transform(ROW, {"tx": 0.4}).ravel(), [1, 2, 3, 4])
    gen = ImageDataGenerator(fill_mode="constant", cval=9, interpolation_order=0)
    # constant: a sample position outside [0, 3] is cval even when it would round inside
    np.testing.assert_array_equal(gen.apply_transform(ROW, {"tx": 0.4}).ravel(), [1, 2, 3, 9])
    np.testing.assert_array_equal(gen.apply_transform(ROW, {"tx": -0.4}).ravel(), [9, 2, 3, 4])
    np.testing.assert_array_equal(gen.apply_transform(ROW, {"tx": 0.6}).ravel(), [2, 3, 4, 9])
    x = np.random.RandomState(0).rand(8, 8, 1)
    out = gen.apply_transform(x, {"theta": 33, "zx": 0.8})
    assert np.isin(out, np.append(x.ravel(), 9)).all()


@pytest.mark.parametrize("shape", [(11, 11), (7, 12), (12, 5)])
def test_matches_scipy_affine_transform(shape):
    ndi = pytest.importorskip("scipy.ndimage")
    rs = np.random.RandomState(0)
    h, w = shape
    for mode in ("constant", "nearest", "reflect", "wrap"):
        for order in (0, 1):
            gen = ImageDataGenerator(fill_mode=mode, cval=-0.5, interpolation_order=order)
            x = rs.rand(3, h, w, 2)
            params = [dict(theta=rs.uniform(-180, 180), tx=rs.uniform(-9, 9),
                           ty=rs.uniform(-9, 9), shear=rs.uniform(-30, 30),
                           zx=rs.uniform(0.6, 1.5), zy=rs.uniform(0.6, 1.5)) for _ in range(3)]
            params.append(dict(theta=90.0, tx=0.5, ty=1.5))  # positions on pixel edges
            x = np.concatenate([x, x[:1]])
            out = np.stack([gen.apply_transform(xi, p) for xi, p in zip(x, params)])
            for xi, p, oi in zip(x, params, out):
                # Keras's construction: rotation @ shift @ shear @ zoom in (x=col, y=row),
                # offset to x=h/2-0.5, y=w/2-0.5, then rows and columns swapped for SciPy.
                t, s = np.deg2rad(p["theta"]), np.deg2rad(p.get("shear", 0.0))
                m = (np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
                     @ np.array([[1, 0, p["tx"]], [0, 1, p["ty"]], [0, 0, 1]])
                     @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
                     @ np.diag([p.get("zx", 1.0), p.get("zy", 1.0), 1.0]))
                ox, oy = h / 2 - 0.5, w / 2 - 0.5
                m = (np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]]) @ m
                     @ np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]]))
                m = m[[1, 0, 2]][:, [1, 0, 2]]
                ref = np.stack([ndi.affine_transform(xi[..., k], m[:2, :2], m[:2, 2], order=order,
                                                     mode=mode, cval=-0.5)
                                for k in range(2)], axis=-1)
                np.testing.assert_allclose(oi, ref, atol=1e-6, err_msg=f"{mode} order {order}")


def test_standalone_apply_affine_transform_channels_first_default():
    x = ramp(5, 5)[..., 0][None]  # (1, 5, 5): Keras's default channel_axis=0
    out = apply_affine_transform(x, theta=90, fill_mode="constant")
    np.testing.assert_allclose(out[0], np.rot90(x[0]), atol=1e-6)


# --------------------------------------------------------------------------- pixel values
def test_channel_shift_clips_to_the_image_range():
    gen = ImageDataGenerator()
    x = np.stack([np.array([[0.0, 50.0]]), np.array([[95.0, 100.0]])], axis=-1)  # (1, 2, 2)
    out = gen.apply_transform(x, {"channel_shift_intensity": 10.0})
    np.testing.assert_allclose(out[..., 0], [[10.0, 60.0]])
    np.testing.assert_allclose(out[..., 1], [[100.0, 100.0]])
    gen = ImageDataGenerator(channel_shift_range=20.0)
    x = np.tile(np.linspace(0, 100, 12).reshape(1, 3, 4, 1), (4, 1, 1, 1))
    batch = gen.flow(x, batch_size=4, shuffle=False, seed=0)[0]
    for b in batch:
        middle = b[1, 1:3, 0] - x[0, 1, 1:3, 0]  # interior pixels are not clipped
        assert abs(middle[0] - middle[1]) < 1e-4 and abs(middle[0]) <= 20


def test_brightness_multiplies_and_clips_8bit_images():
    x = np.full((2, 2, 2, 3), 100.0)
    x[:, 0, 0] = 200.0
    half = ImageDataGenerator(brightness_range=(0.5, 0.5)).flow(x, shuffle=False)[0]
    np.testing.assert_allclose(half, x * 0.5)
    double = ImageDataGenerator(brightness_range=(2.0, 2.0)).flow(x, shuffle=False)[0]
    np.testing.assert_allclose(double, np.minimum(x * 2, 255))
    scaled = ImageDataGenerator(brightness_range=(1.5, 1.5)).apply_transform(
        np.array([[[-1.0], [99.0], [400.0]]]), {"brightness": 1.5})
    # outside [0, 255] Keras stretches to [0, 255], brightens, stretches back:
    # lo + clip((x - lo) * f, 0, hi - lo) with lo=-1, hi=400 (without its 8-bit rounding)
    np.testing.assert_allclose(scaled.ravel(), [-1.0, 149.0, 400.0])


def test_rescale_and_preprocessing_function_order():
    x = np.full((2, 2, 2, 1), 255, dtype=np.uint8)
    out = ImageDataGenerator(rescale=1 / 255).flow(x, shuffle=False)[0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0)
    gen = ImageDataGenerator(rescale=0.5, preprocessing_function=lambda im: im + 1)
    np.testing.assert_allclose(gen.flow(x, shuffle=False)[0], 128.0)  # (255 + 1) * 0.5


def test_samplewise_centering_is_per_image():
    x = np.stack([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 5.0)])
    x[1, 0, 0] = 9.0
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True)
    out = gen.standardize(x.copy())
    np.testing.assert_allclose(out[0], 0.0)
    expected = (x[1] - 6.0) / (np.sqrt(((x[1] - 6.0) ** 2).mean()) + 1e-6)
    np.testing.assert_allclose(out[1], expected, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:.*channels")
def test_featurewise_center_and_std_from_fit():
    # channel 0 holds 0, 2, 4, 6 (mean 3, std sqrt 5); channel 1 holds 1, 1, 3, 3 (mean 2, std 1)
    x = np.array([[[[0, 1], [2, 1]]], [[[4, 3], [6, 3]]]], dtype=np.float32)  # (2, 1, 2, 2)
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    gen.fit(x)
    np.testing.assert_allclose(gen.mean.ravel(), [3.0, 2.0])
    np.testing.assert_allclose(gen.std.ravel(), [np.sqrt(5.0), 1.0], rtol=1e-6)
    assert gen.mean.shape == (1, 1, 2)
    out = gen.flow(x, batch_size=2, shuffle=False)[0]
    np.testing.assert_allclose(out[1, 0, 1, 0], 3 / (np.sqrt(5.0) + 1e-6), rtol=1e-5)
    np.testing.assert_allclose(out[0, 0, 0, 1], -1 / (1 + 1e-6), rtol=1e-5)


def test_fit_with_augmentation_uses_transformed_copies():
    gen = ImageDataGenerator(featurewise_center=True, brightness_range=(2.0, 2.0))
    gen.fit(np.full((3, 2, 2, 1), 100.0), augment=True, rounds=2, seed=0)
    np.testing.assert_allclose(gen.mean.ravel(), [200.0])


def test_zca_whitening_gives_identity_covariance():
    rs = np.random.RandomState(0)
    mix = np.array([[2.0, 0.5, 0, 0], [0, 1.0, 0.3, 0], [0, 0, 0.5, 0.2], [0.1, 0, 0, 1.5]])
    x = (rs.randn(400, 4) @ mix).reshape(400, 2, 2, 1).astype(np.float32)
    with pytest.warns(UserWarning, match="featurewise_center"):
        gen = ImageDataGenerator(zca_whitening=True)
    gen.fit(x)
    pcs = gen.principal_components
    np.testing.assert_allclose(pcs, pcs.T, atol=1e-5)
    white = gen.flow(x, batch_size=400, shuffle=False)[0].reshape(400, 4).astype(np.float64)
    # Keras centres per channel, then whitens the second moment: E[w w^T] = I
    np.testing.assert_allclose(white.T @ white / 400, np.eye(4), atol=1e-3)
    centred = x.reshape(400, 4) - x.mean()
    np.testing.assert_allclose(white, centred @ pcs, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- iterators
def test_flow_len_batches_and_order_without_shuffle():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    it = ImageDataGenerator().flow(x, np.arange(10), batch_size=4, shuffle=False)
    assert len(it) == 3
    sizes = [len(it[i][0]) for i in range(3)]
    assert sizes == [4, 4, 2]
    np.testing.assert_array_equal(it[2][1], [8, 9])
    first = [next(it)[1].tolist() for _ in range(4)]
    assert first == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3]]
    with pytest.raises(ValueError, match="length 3"):
        it[3]


def test_flow_shuffle_is_deterministic_with_seed():
    x = np.random.RandomState(0).rand(10, 4, 4, 1).astype(np.float32)
    gen = ImageDataGenerator(rotation_range=40, horizontal_flip=True)
    a = gen.flow(x, np.arange(10), batch_size=4, seed=11)
    b = gen.flow(x, np.arange(10), batch_size=4, seed=11)
    for _ in range(5):
        (xa, ya), (xb, yb) = next(a), next(b)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    epoch = np.concatenate([a[i][1] for i in range(len(a))])
    assert sorted(epoch.tolist()) == list(range(10)) and epoch.tolist() != list(range(10))
    a.on_epoch_end()
    again = np.concatenate([a[i][1] for i in range(len(a))])
    assert sorted(again.tolist()) == list(range(10))


def test_flow_batch_equals_per_image_keras_pipeline():
    x = np.random.RandomState(1).rand(5, 6, 6, 3).astype(np.float32) * 255
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.2, zoom_range=0.2,
                             shear_range=10, channel_shift_range=5, horizontal_flip=True,
                             rescale=1 / 255, fill_mode="reflect")
    batch = gen.flow(x, batch_size=5, shuffle=False, seed=4)[0]
    state = np.random.get_state()
    try:
        np.random.seed(4)  # Keras seeds the global state with seed + batches seen
        params = [gen.get_random_transform(x.shape[1:]) for _ in range(5)]
    finally:
        np.random.set_state(state)
    expected = np.stack([gen.standardize(gen.apply_transform(xi, p)) for xi, p in zip(x, params)])
    np.testing.assert_allclose(batch, expected, rtol=1e-5, atol=1e-6)


def test_channels_first_matches_channels_last():
    x = np.random.RandomState(2).rand(4, 5, 7, 3).astype(np.float32)
    kwargs = dict(rotation_range=45, height_shift_range=0.2, zoom_range=0.3, vertical_flip=True,
                  brightness_range=(0.5, 1.5), samplewise_center=True)
    last = ImageDataGenerator(**kwargs).flow(x, batch_size=4, shuffle=False, seed=9)[0]
    first = ImageDataGenerator(data_format="channels_first", **kwargs).flow(
        x.transpose(0, 3, 1, 2), batch_size=4, shuffle=False, seed=9)[0]
    np.testing.assert_allclose(first, last.transpose(0, 3, 1, 2), atol=1e-6)


def test_sample_weight_and_extra_inputs_pass_through():
    x = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1)
    y, w = np.arange(6), np.linspace(0.5, 3.0, 6)
    bx, by, bw = ImageDataGenerator().flow(x, y, sample_weight=w, batch_size=6, seed=3)[0]
    np.testing.assert_array_equal(bx.ravel(), by)
    np.testing.assert_allclose(bw, w[by])
    (imgs, extra), by = ImageDataGenerator().flow((x, y * 10), y, batch_size=3, seed=0)[0]
    np.testing.assert_array_equal(extra, by * 10)


def test_validation_split_subsets():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10) % 2
    gen = ImageDataGenerator(validation_split=0.3)
    val = gen.flow(x, y, batch_size=10, shuffle=False, subset="validation")[0][0]
    train = gen.flow(x, y, batch_size=10, shuffle=False, subset="training")[0][0]
    np.testing.assert_array_equal(val.ravel(), [0, 1, 2])
    np.testing.assert_array_equal(train.ravel(), np.arange(3, 10))
    with pytest.raises(ValueError, match="different classes"):
        gen.flow(x, np.repeat([0, 1], 5), subset="training")
    gen.flow(x, np.repeat([0, 1], 5), subset="training", ignore_class_split=True)
    with pytest.raises(ValueError, match="subset"):
        gen.flow(x, y, subset="test")


def test_wrong_rank_and_length_errors():
    gen = ImageDataGenerator()
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 3, 3\)"):
        gen.flow(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"rank 4.*\(3, 3\)"):
        gen.fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="same length"):
        gen.flow(np.zeros((2, 3, 3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="sample_weight"):
        gen.flow(np.zeros((2, 3, 3, 1)), np.zeros(2), sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="rank-3"):
        gen.apply_transform(np.zeros((1, 3, 3, 1)), {})
    with pytest.raises(ValueError, match="batch_size"):
        gen.flow(np.zeros((2, 3, 3, 1)), batch_size=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"fill_mode": "mirror"}, "fill_mode"),
    ({"interpolation_order": 6}, "interpolation_order"),
    ({"zoom_range": (0.5, 1.0, 2.0)}, "zoom_range"),
    ({"brightness_range": 0.5}, "brightness_range"),
    ({"validation_split": 1.5}, "validation_split"),
    ({"data_format": "NHWC"}, "data_format"),
    ({"width_shift_range": "wide"}, "width_shift_range"),
])
def test_constructor_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageDataGenerator(**kwargs)


# --------------------------------------------------------------------------- files (Pillow)
def test_missing_pillow_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install Pillow"):
        image.load_img(tmp_path / "nothing.png")


def test_flow_from_directory_without_pillow_fails_early(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install Pillow"):
        ImageDataGenerator().flow_from_directory(tmp_path)


def test_flow_save_to_dir_writes_augmented_images(tmp_path):
    pytest.importorskip("PIL")
    x = np.random.RandomState(0).rand(3, 4, 4, 3) * 255
    ImageDataGenerator(horizontal_flip=True).flow(
        x, batch_size=3, seed=0, save_to_dir=str(tmp_path), save_prefix="aug")[0]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and all(n.startswith("aug_") and n.endswith(".png") for n in names)


def _write_png(path, value, size=(6, 4)):
    pil = pytest.importorskip("PIL.Image")
    arr = np.full((size[0], size[1], 3), value, dtype=np.uint8)
    pil.fromarray(arr, "RGB").save(path)


def test_flow_from_directory(tmp_path, capsys):
    pytest.importorskip("PIL")
    for cls, n, value in [("cats", 3, 10), ("dogs", 2, 200)]:
        (tmp_path / cls).mkdir()
        for i in range(n):
            _write_png(tmp_path / cls / f"{i}.png", value)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    gen = ImageDataGenerator(rescale=1 / 255)
    it = gen.flow_from_directory(tmp_path, target_size=(4, 4), batch_size=5, shuffle=False)
    assert "Found 5 images belonging to 2 classes." in capsys.readouterr().out
    assert it.class_indices == {"cats": 0, "dogs": 1}
    np.testing.assert_array_equal(it.classes, [0, 0, 0, 1, 1])
    bx, by = it[0]
    assert bx.shape == (5, 4, 4, 3) and by.shape == (5, 2)
    np.testing.assert_array_equal(by, [[1, 0]] * 3 + [[0, 1]] * 2)
    np.testing.assert_allclose(bx[0], 10 / 255, rtol=1e-6)
    np.testing.assert_allclose(bx[4], 200 / 255, rtol=1e-6)
    gray = gen.flow_from_directory(tmp_path, target_size=(3, 5), color_mode="grayscale",
                                   class_mode="sparse", shuffle=False)
    bx, by = gray[0]
    assert bx.shape == (5, 3, 5, 1) and by.tolist() == [0, 0, 0, 1, 1]
    assert gen.flow_from_directory(tmp_path, class_mode=None, target_size=(2, 2))[0].shape == \
        (5, 2, 2, 3)
    split = ImageDataGenerator(validation_split=0.5)
    val = split.flow_from_directory(tmp_path, target_size=(2, 2), subset="validation",
                                    class_mode="binary", shuffle=False)
    train = split.flow_from_directory(tmp_path, target_size=(2, 2), subset="training")
    assert val.samples == 2 and train.samples == 3  # per class: int(0.5 * n) for validation
    assert val[0][1].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(tmp_path, class_mode="onehot")


def test_array_img_round_trip(tmp_path):
    pytest.importorskip("PIL")
    x = np.random.RandomState(0).randint(0, 256, size=(4, 5, 3)).astype(np.float32)
    img = image.array_to_img(x, scale=False)
    assert img.size == (5, 4)
    np.testing.assert_array_equal(image.img_to_array(img), x)
    assert image.img_to_array(img, data_format="channels_first").shape == (3, 4, 5)
    image.save_img(tmp_path / "a.png", x, scale=False)
    loaded = image.img_to_array(image.load_img(tmp_path / "a.png"))
    np.testing.assert_array_equal(loaded, x)
    small = image.load_img(tmp_path / "a.png", target_size=(2, 3), color_mode="grayscale")
    assert image.img_to_array(small).shape == (2, 3, 1)
    with pytest.raises(ValueError, match="rank 3"):
        image.array_to_img(np.zeros((2, 2)))


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_whole_pixel_translation_equals_index_shift(fill_mode):
    """The one-gather path for whole-pixel shifts gives what bilinear sampling gives."""
    from gpunet.layers.preprocessing._affine import warp_affine

    rng = np.random.default_rng(0)
    imgs = rng.random((3, 5, 6, 2)).astype(np.float32)
    m = np.tile(np.eye(3), (3, 1, 1))
    m[:, 0, 2] = [2, -1, 0]  # column offsets read (output c -> input c + t)
    m[:, 1, 2] = [1, 0, -3]
    got = warp_affine(imgs, m, fill_mode=fill_mode, cval=-1.0, order=1)
    for i in range(3):
        r = np.arange(5)[:, None] + int(m[i, 1, 2])
        c = np.arange(6)[None, :] + int(m[i, 0, 2])
        if fill_mode == "nearest":
            rr, cc = np.clip(r, 0, 4), np.clip(c, 0, 5)
        elif fill_mode == "wrap":
            rr, cc = r % 5, c % 6
        elif fill_mode == "reflect":
            rr = np.where(r % 10 >= 5, 9 - r % 10, r % 10)
            cc = np.where(c % 12 >= 6, 11 - c % 12, c % 12)
        else:
            rr, cc = np.clip(r, 0, 4), np.clip(c, 0, 5)
        want = imgs[i][rr, cc]
        if fill_mode == "constant":
            want = np.where(((r < 0) | (r > 4) | (c < 0) | (c > 5))[..., None], -1.0, want)
        np.testing.assert_array_equal(got[i], want)
