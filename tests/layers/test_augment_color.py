"""The Keras 3.15 colour and erasing augmentations beyond the replayed Keras values
(test_augment_keras.py): Keras's argument errors, bad inputs, seeds, the statistics of the
draws against the distributions Keras documents, single images, dict inputs, data formats,
uint8 inputs (dtypes from Keras), training inside a Sequential model and .keras round trips."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd import Tensor

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
UINT8 = json.loads((FIXDIR / "augment.json").read_text())["uint8"]

# a layer of each class with random draws, as (class, kwargs)
RANDOM = [
    ("RandomGrayscale", {"factor": 0.5}), ("RandomInvert", {}),
    ("Solarization", {"addition_factor": 0.3, "threshold_factor": 0.6}),
    ("RandomPosterization", {"factor": 6}), ("RandomColorDegeneration", {"factor": 0.8}),
    ("RandomSaturation", {"factor": 0.7}), ("RandomHue", {"factor": 0.6}),
    ("RandomSharpness", {"factor": 0.9}),
    ("RandomColorJitter", {"brightness_factor": 0.3, "contrast_factor": 0.4,
                           "saturation_factor": 0.6, "hue_factor": 0.3}),
    ("RandomErasing", {"fill_value": 10.0}),
]


def _np(t):
    return gpunet.backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _images(n=6, h=8, w=8, top=255.0, seed=0):
    return np.random.default_rng(seed).uniform(0, top, (n, h, w, 3)).astype("float32")


def _make(name, kwargs, **extra):
    return getattr(layers, name)(**kwargs, **extra)


# -- argument and input errors -----------------------------------------------------------------
BAD = [
    (lambda: layers.RandomGrayscale(factor=1.5), "`factor` should be between 0 and 1.*1.5"),
    (lambda: layers.RandomInvert(factor=2), r"`factor` argument.*\[0, 1\].*factor=2"),
    (lambda: layers.RandomInvert(value_range=3), "value_range=3"),
    (lambda: layers.Solarization(addition_factor=1.5), "addition_factor.*input_number=1.5"),
    (lambda: layers.Solarization(threshold_factor="x"), "threshold_factor=x"),
    (lambda: layers.Solarization(value_range=(0, 1, 2)), r"value_range=\(0, 1, 2\)"),
    (lambda: layers.RandomPosterization(9), r"\[1, 8\].*factor=9"),
    (lambda: layers.RandomPosterization(0), r"\[1, 8\].*factor=0"),
    (lambda: layers.AutoContrast(value_range=(0,)), "value_range"),
    (lambda: layers.RandomColorDegeneration("a"), "factor=a"),
    (lambda: layers.RandomSaturation((0.1, 0.2, 0.3)), "factor"),
    (lambda: layers.RandomHue(-0.5), r"\[0, 1\].*factor=-0.5"),
    (lambda: layers.RandomSharpness(2), r"\[0, 1\].*factor=2"),
    (lambda: layers.RandomColorJitter(hue_factor=2), "hue_factor"),
    (lambda: layers.RandomColorJitter(contrast_factor=1.5), "contrast_factor"),
    (lambda: layers.RandomColorJitter(value_range="0-255"), "value_range"),
    (lambda: layers.RandomErasing(scale=1.5), "`scale`"),
    (lambda: layers.RandomErasing(fill_value=(1, 2)), r"fill_value.*\(1, 2\)"),
    (lambda: layers.RandomErasing(fill_value="black"), "fill_value=black"),
    (lambda: layers.RandomGrayscale(data_format="nhwc"), "RandomGrayscale.*data_format"),
    (lambda: layers.RandomHue(0.1, seed="s"), "RandomHue.*seed"),
]


@pytest.mark.parametrize("make,match", BAD)
def test_bad_arguments_raise_value_error_as_keras(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_name_the_layer(backend):
    with pytest.raises(ValueError, match=r"'gray'.*rank 3.*or 4.*\(8, 8\)"):
        layers.RandomGrayscale(name="gray")(np.zeros((8, 8), "float32"))
    with pytest.raises(ValueError, match=r"RandomGrayscale.*3 \(RGB\) or 1.*\(2, 4, 4, 4\)"):
        layers.RandomGrayscale(1.0)(np.zeros((2, 4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="RandomSaturation.*float dtype.*uint8"):
        layers.RandomSaturation(0.5)(np.zeros((2, 4, 4, 3), "uint8"))
    with pytest.raises(ValueError, match=r"'hue'.*'images' key.*\['x'\]"):
        layers.RandomHue(0.5, name="hue")({"x": np.zeros((2, 4, 4, 3), "float32")})
    with pytest.raises(ValueError, match="bounding_boxes"):
        layers.RandomInvert()({"images": np.zeros((2, 4, 4, 3), "float32"),
                               "bounding_boxes": {"boxes": np.zeros((2, 1, 4))}})


# -- seeds, training flag, shapes --------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_seeded_layers_repeat_their_draws_and_training_false_is_identity(backend, name, kwargs):
    x = backend.asarray(_images())
    first = _np(_make(name, kwargs, seed=11)(x, training=True))
    again = _np(_make(name, kwargs, seed=11)(x, training=True))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, _np(x))
    layer = _make(name, kwargs, seed=11)
    t1 = layer.get_random_transformation(x, seed=5)
    t2 = layer.get_random_transformation(x, seed=5)
    np.testing.assert_array_equal(_np(layer.transform_images(x, t1)),
                                  _np(layer.transform_images(x, t2)))
    np.testing.assert_array_equal(_np(layer(x, training=False)), _np(x))
    gpunet.utils.set_random_seed(3)  # unseeded: the global seed decides
    a = _np(_make(name, kwargs)(x))
    gpunet.utils.set_random_seed(3)
    np.testing.assert_array_equal(_np(_make(name, kwargs)(x)), a)


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_transformation_lives_on_the_images_device(backend, name, kwargs):
    x = backend.asarray(_images())
    t = _make(name, kwargs).get_random_transformation(x)
    arrays = list(t.values()) if isinstance(t, dict) else [t]
    arrays = [v for a in arrays for v in (a.values() if isinstance(a, dict) else [a])]
    assert arrays and all(isinstance(a, backend.xp.ndarray) for a in arrays)


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_single_image_is_a_batch_of_one(backend, name, kwargs):
    x = _images(n=1)
    layer = _make(name, kwargs, seed=4)
    y = layer(backend.asarray(x[0]))
    assert tuple(y.shape) == x.shape[1:]
    t = _make(name, kwargs, seed=4).get_random_transformation(backend.asarray(x[0]))
    batched = layer.transform_images(backend.asarray(x), t)
    np.testing.assert_allclose(_np(y), _np(batched)[0], rtol=1e-6)


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_channels_first_is_channels_last_transposed(backend, name, kwargs):
    x = _images()
    last = _np(_make(name, kwargs, seed=2)(backend.asarray(x)))
    first = _make(name, kwargs, seed=2, data_format="channels_first")
    got = _np(first(backend.asarray(x.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(got.transpose(0, 2, 3, 1), last, rtol=1e-5, atol=1e-3)


def test_dict_inputs_transform_images_and_pass_labels_and_masks(backend):
    x = _images()
    labels = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]
    masks = np.random.default_rng(1).integers(0, 3, (6, 8, 8, 1)).astype("int32")
    for name, kwargs in RANDOM:
        data = {"images": x, "labels": labels, "segmentation_masks": masks, "id": "batch-1"}
        out = _make(name, kwargs, seed=9)(data)
        assert set(out) == set(data) and out["id"] == "batch-1"
        np.testing.assert_array_equal(_np(out["images"]),
                                      _np(_make(name, kwargs, seed=9)(x)))
        np.testing.assert_array_equal(_np(out["labels"]), labels)
        np.testing.assert_array_equal(_np(out["segmentation_masks"]), masks)
        assert data["images"] is x  # the caller's dict is not changed


@pytest.mark.parametrize("name", sorted(UINT8))
def test_uint8_images_give_keras_dtypes(backend, name):
    case = UINT8[name]
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("uint8")
    for training, want in zip((True, False), case["dtypes"]):
        layer = getattr(layers, name)(**case["args"])
        if want == "ValueError":
            with pytest.raises(ValueError):
                layer(backend.asarray(x), training=training)
            continue
        assert str(_np(layer(backend.asarray(x), training=training)).dtype) == want


# -- statistics of the draws (the distributions Keras documents) -----------------------------
def test_draw_statistics(backend):
    n = 4000
    x = backend.asarray(np.zeros((n, 1, 1, 3), "float32"))
    gray = _np(layers.RandomGrayscale(0.5, seed=1).get_random_transformation(x))
    assert gray.shape == (n, 1, 1, 1) and abs(gray.mean() - 0.5) < 0.03
    inv = _np(layers.RandomInvert(seed=1).get_random_transformation(x)["apply_inversion"])
    assert abs(inv.mean() - 0.5) < 0.03  # p ~ U(0, 1), then u < p: P = 1/2
    inv = layers.RandomInvert((0.3, 0.9), seed=1).get_random_transformation(x)
    assert abs(_np(inv["apply_inversion"]).mean() - 0.6) < 0.03
    sol = layers.Solarization(0.2, (0.1, 0.5), seed=1).get_random_transformation(x)
    add, thr = _np(sol["additions"]), _np(sol["thresholds"])
    assert add.min() >= 0 and add.max() <= 51 and abs(add.mean() - 25.5) < 1.5
    assert thr.min() >= 0.1 and thr.max() <= 127.5  # Keras scales only the upper end
    shift = _np(layers.RandomPosterization(4, seed=1).get_random_transformation(x)[
        "shift_factor"])
    assert shift.dtype == np.uint8 and set(np.unique(shift)) == {5, 6, 7}  # bits in [1, 4)
    assert all(abs((shift == s).mean() - 1 / 3) < 0.03 for s in (5, 6, 7))
    hue = _np(layers.RandomHue(0.6, seed=1).get_random_transformation(x)["factor"])
    assert abs((hue > 0).mean() - 0.5) < 0.03 and np.abs(hue).max() <= 0.3
    assert abs(np.abs(hue).mean() - 0.15) < 0.01
    sat = _np(layers.RandomSaturation((0.2, 0.6), seed=1).get_random_transformation(x)[
        "factor"])
    f = sat / (1 + sat)  # the drawn f from f / (1 - f)
    assert f.min() >= 0.2 - 1e-6 and f.max() <= 0.6 + 1e-6 and abs(f.mean() - 0.4) < 0.01
    deg = _np(layers.RandomColorDegeneration(0.5, seed=1).get_random_transformation(x)[
        "factor"])
    assert deg.shape == (n, 1, 1, 1) and deg.min() >= -0.5 and abs(deg.mean()) < 0.02
    sharp = _np(layers.RandomSharpness((0.2, 0.4), seed=1).get_random_transformation(x)[
        "factor"])
    assert sharp.min() >= 0.2 and sharp.max() <= 0.4


def test_erasing_statistics_and_rectangles(backend):
    n, h, w = 2000, 20, 30
    x = backend.asarray(np.full((n, h, w, 3), 100.0, "float32"))
    layer = layers.RandomErasing(scale=(0.1, 0.5), seed=3)
    t = layer.get_random_transformation(x)
    apply, masks = _np(t["apply_erasing"]), _np(t["batch_masks"])
    assert abs(apply.mean() - 0.5) < 0.04
    rows, cols = masks[:, :, :, 0].any(2), masks[:, :, :, 0].any(1)
    nr, nc = rows.sum(1), cols.sum(1)
    # a full rectangle whose sides are sqrt(s) of the image's, s in [0.1, 0.5]
    np.testing.assert_array_equal(masks[:, :, :, 0].sum((1, 2)), nr * nc)
    assert nr.min() >= int(np.sqrt(0.1) * h) - 1 and nr.max() <= int(np.sqrt(0.5) * h) + 1
    assert nc.min() >= int(np.sqrt(0.1) * w) - 1 and nc.max() <= int(np.sqrt(0.5) * w) + 1
    fill = _np(t["fill_value"])  # N(0, 1) * 255 clipped to [0, 255]
    assert abs((fill == 0).mean() - 0.5) < 0.01 and abs((fill == 255).mean() - 0.16) < 0.01
    y = _np(layer.transform_images(x, t))
    erased = masks & apply[:, None, None, None]
    np.testing.assert_array_equal(y[erased], fill[erased])
    np.testing.assert_array_equal(y[~erased], 100.0)


# -- inside models -----------------------------------------------------------------------------
def _model():
    return Sequential([
        layers.Input((6, 6, 3)), layers.RandomGrayscale(0.5), layers.RandomInvert(),
        layers.Solarization(0.1, 0.5), layers.RandomPosterization(6), layers.AutoContrast(),
        layers.RandomColorDegeneration(0.3), layers.RandomSaturation(0.6),
        layers.RandomHue(0.2), layers.RandomSharpness(0.5),
        layers.RandomColorJitter(brightness_factor=0.1, contrast_factor=0.2, seed=4),
        layers.RandomErasing(seed=2), layers.Rescaling(1 / 255.0), layers.Flatten(),
        layers.Dense(2, activation="softmax")])


def test_layers_train_in_a_sequential_model_and_pass_at_inference(backend):
    gpunet.utils.set_random_seed(0)
    x = np.random.default_rng(1).uniform(0, 255, (8, 6, 6, 3)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    model = _model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    hist = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    # inference: only AutoContrast acts (as in Keras), then the dense head
    lo, hi = x.min((1, 2), keepdims=True), x.max((1, 2), keepdims=True)
    stretched = (x - lo) * (255.0 / (hi - lo)) / 255.0
    w, b = model.layers[-1].get_weights()
    logits = stretched.reshape(8, -1) @ w + b
    expect = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               expect / expect.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_keras_file_round_trip_keeps_configs_and_predictions(backend, tmp_path):
    model = _model()
    x = np.random.default_rng(2).uniform(0, 255, (4, 6, 6, 3)).astype("float32")
    path = tmp_path / "augment.keras"
    model.save(path)
    loaded = gpunet.models.load_model(path, compile=False)
    for a, b in zip(model.layers, loaded.layers):
        assert type(a) is type(b)
        assert json.loads(json.dumps(a.get_config())) == json.loads(json.dumps(b.get_config()))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
