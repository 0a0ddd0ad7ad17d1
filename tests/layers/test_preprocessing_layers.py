"""Keras 3 preprocessing layers against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.saving.serialization import deserialize_layer


def _np(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _clone(layer):
    return deserialize_layer({"class_name": type(layer).__name__, "config": layer.get_config()})


# -- Rescaling / CenterCrop / Resizing ---------------------------------------------------------
def test_rescaling_uint8(backend):
    out = layers.Rescaling(1.0 / 127.5, offset=-1.0)(np.array([[0, 51, 255]], "uint8"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(_np(out), [[-1.0, 51 / 127.5 - 1, 1.0]], rtol=1e-6)


def test_center_crop_and_small_input(backend):
    x = np.arange(24.0).reshape(1, 4, 6, 1)
    out = _np(layers.CenterCrop(2, 3)(x))[0, :, :, 0]
    # rows 1..2, columns (6 - 3) // 2 = 1 .. 3
    np.testing.assert_array_equal(out, [[7, 8, 9], [13, 14, 15]])
    assert layers.CenterCrop(5, 5)(np.ones((2, 3, 3, 1))).shape == (2, 5, 5, 1)


def test_resizing_bilinear_nearest_crop(backend):
    x = np.array([0.0, 4.0]).reshape(1, 1, 2, 1)
    # half-pixel centres: sources -0.25, 0.25, 0.75, 1.25 -> 0, 1, 3, 4
    up = _np(layers.Resizing(1, 4)(x))[0, 0, :, 0]
    np.testing.assert_allclose(up, [0, 1, 3, 4])
    row = np.arange(4.0).reshape(1, 1, 4, 1)
    # nearest: floor((i + 0.5) * 2) -> columns 1 and 3
    near = _np(layers.Resizing(1, 2, interpolation="nearest")(row))[0, 0, :, 0]
    np.testing.assert_array_equal(near, [1, 3])
    img = np.arange(24.0).reshape(1, 4, 6, 1)
    # crop to 4x4 (columns 1..4), then 4 -> 2 bilinear samples rows/cols 0.5 and 2.5
    out = _np(layers.Resizing(2, 2, crop_to_aspect_ratio=True)(img))[0, :, :, 0]
    c = img[0, :, 1:5, 0]
    expect = [[c[0:2, 0:2].mean(), c[0:2, 2:4].mean()], [c[2:4, 0:2].mean(), c[2:4, 2:4].mean()]]
    np.testing.assert_allclose(out, expect)
    assert layers.Resizing(3, 5)(np.ones((7, 2, 3))).shape == (3, 5, 3)  # one image


def test_resizing_rank_error_names_layer():
    with pytest.raises(ValueError,
                       match=r"'resizing' \(Resizing\).*rank 3.*or 4.*received.*\(2, 3\)"):
        layers.Resizing(2, 2, name="resizing")(np.ones((2, 3)))


# -- Normalization -----------------------------------------------------------------------------
ADAPT = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]], "float32")


def test_normalization_adapt_statistics(backend):
    layer = layers.Normalization()
    layer.adapt(ADAPT)
    mean, var, count = layer.get_weights()
    np.testing.assert_allclose(mean, [1.0, 8.0, 5.0])
    np.testing.assert_allclose(var, [1.0, 1.0, 1.0])
    assert count == 4
    np.testing.assert_allclose(_np(layer(ADAPT[:1])), [[-1.0, -1.0, -1.0]])
    inv = layers.Normalization(invert=True)
    inv.adapt(ADAPT)
    np.testing.assert_allclose(_np(inv(np.array([[1.0, 2.0, 3.0]]))), [[2.0, 10.0, 8.0]])


def test_normalization_batches_pooled_and_axis_none():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 2)) * [1, 3] + [5, -2] for n in (3, 7, 5)]
    layer = layers.Normalization()
    layer.adapt([(p, None) for p in parts])  # an iterable of (x, y) batches
    full = np.concatenate(parts)
    np.testing.assert_allclose(layer.get_weights()[0], full.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[1], full.var(0), rtol=1e-5)
    scalar = layers.Normalization(axis=None)
    scalar.adapt(np.array([[1.0, 3.0], [5.0, 7.0]]))
    assert scalar.get_weights()[0].shape == () and scalar.get_weights()[0] == 4.0
    np.testing.assert_allclose(scalar.get_weights()[1], 5.0)


def test_normalization_given_stats_in_config():
    layer = layers.Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(_np(layer(np.array([[1.0], [3.0]]))), [[-math.sqrt(2)], [0.0]],
                               rtol=1e-6)
    assert layer.weights == [] and layer.get_config()["mean"] == 3.0
    with pytest.raises(ValueError, match="Normalization.*both `mean` and `variance`"):
        layers.Normalization(mean=1.0)


# -- Discretization / CategoryEncoding ---------------------------------------------------------
def test_discretization_bins(backend):
    layer = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.5])
    out = _np(layer(np.array([[-1.0, 0.0, 0.99, 1.0, 2.5, 9.0]])))
    np.testing.assert_array_equal(out, [[0, 1, 1, 2, 3, 3]])
    counts = layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="count")
    np.testing.assert_array_equal(_np(counts(np.array([[-1.0, 0.5, 0.7]]))), [[1, 2, 0]])
    adapted = layers.Discretization(num_bins=4)
    adapted.adapt(np.arange(1.0, 9.0))  # quartiles of 1..8 on the empirical CDF
    assert adapted.bin_boundaries == [2.0, 4.0, 6.0]
    back = _clone(adapted)
    assert back.bin_boundaries == [2.0, 4.0, 6.0] and back.num_bins == 4
    with pytest.raises(ValueError, match=r"'disc'.*no bin boundaries"):
        layers.Discretization(num_bins=2, name="disc")(np.ones((1, 1)))


def test_category_encoding_modes(backend):
    x = np.array([[0, 1, 1], [3, 3, 2]])
    multi = _np(layers.CategoryEncoding(4)(x))
    np.testing.assert_array_equal(multi, [[1, 1, 0, 0], [0, 0, 1, 1]])
    count = _np(layers.CategoryEncoding(4, output_mode="count")(x))
    np.testing.assert_array_equal(count, [[1, 2, 0, 0], [0, 0, 1, 2]])
    one = _np(layers.CategoryEncoding(4, output_mode="one_hot")(np.array([[3], [0]])))
    np.testing.assert_array_equal(one, [[0, 0, 0, 1], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"'enc'.*\[0, 4\).*from 0 to 7"):
        layers.CategoryEncoding(4, name="enc")(np.array([[0, 7]]))


# -- StringLookup / IntegerLookup --------------------------------------------------------------
DATA = ["a", "b", "b", "c", "c", "c", "d"]


def test_string_lookup_vocabulary_order_and_modes(backend):
    layer = layers.StringLookup()
    layer.adapt(DATA)
    # c:3, b:2, then the ties a:1, d:1 in descending token order: d before a
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "d", "a"]
    np.testing.assert_array_equal(_np(layer([["a", "c", "zz"]])), [[4, 1, 0]])
    one = layers.StringLookup(vocabulary=["c", "b"], output_mode="one_hot")
    np.testing.assert_array_equal(_np(one(["b", "x"])), [[0, 0, 1], [1, 0, 0]])
    multi = layers.StringLookup(vocabulary=["c", "b"], output_mode="multi_hot")
    np.testing.assert_array_equal(_np(multi([["b", "b", "x"]])), [[1, 0, 1]])
    count = layers.StringLookup(vocabulary=["c", "b"], output_mode="count")
    np.testing.assert_array_equal(_np(count([["b", "b", "x"]])), [[1, 0, 2]])
    # tf_idf over 2 documents: idf = log(1 + 2 / (1 + df)); OOV gets the mean idf
    tfidf = layers.StringLookup(output_mode="tf_idf")
    tfidf.adapt([["c", "c", "b"], ["c", "d", "d"]])
    assert tfidf.get_vocabulary() == ["[UNK]", "c", "d", "b"]
    idf_c, idf_1 = math.log(1 + 2 / 3), math.log(2)
    oov = (idf_c + 2 * idf_1) / 3
    np.testing.assert_allclose(_np(tfidf([["c", "c", "b", "q"]])),
                               [[oov, 2 * idf_c, 0, idf_1]], rtol=1e-6)


def test_string_lookup_mask_invert_oov_and_max_tokens():
    layer = layers.StringLookup(max_tokens=4, mask_token="")
    layer.adapt(DATA)
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b"]  # mask, OOV, 2 learnt tokens
    np.testing.assert_array_equal(_np(layer([["c", "", "a"]])), [[2, 0, 1]])
    inv = layers.StringLookup(vocabulary=["c", "b"], invert=True)
    assert inv(np.array([[1, 2, 0, 9]])).tolist() == [["c", "b", "[UNK]", "[UNK]"]]
    strict = layers.StringLookup(vocabulary=["a"], num_oov_indices=0, name="strict")
    with pytest.raises(ValueError, match=r"'strict'.*num_oov_indices=0.*\['zz'\]"):
        strict(["a", "zz"])
    with pytest.raises(ValueError, match="repeated terms"):
        layers.StringLookup(vocabulary=["a", "a"])
    back = _clone(layer)
    assert back.get_vocabulary() == layer.get_vocabulary()


def test_integer_lookup(backend):
    layer = layers.IntegerLookup(vocabulary=[12, 36, 1138])
    np.testing.assert_array_equal(_np(layer(np.array([[12, 1138, 42]]))), [[1, 3, 0]])
    two = layers.IntegerLookup(vocabulary=[12, 36], num_oov_indices=2)
    np.testing.assert_array_equal(_np(two(np.array([7, 8, 36]))), [1, 0, 3])  # 7%2, 8%2
    adapted = layers.IntegerLookup()
    adapted.adapt(np.array([5, 5, 9, 9, 1]))
    assert adapted.get_vocabulary() == [-1, 9, 5, 1]  # ties 9, 5 in descending order


# -- TextVectorization -------------------------------------------------------------------------
CORPUS = ["The cat sat.", "The dog sat on the mat!", "A cat!"]
# the:3, then the ties (descending): sat, cat; then on, mat, dog, a
VOCAB = ["the", "sat", "cat", "on", "mat", "dog", "a"]


def test_text_vectorization_int(backend):
    layer = layers.TextVectorization(output_sequence_length=5)
    layer.adapt(CORPUS)
    assert layer.get_vocabulary() == ["", "[UNK]"] + VOCAB
    out = _np(layer(["The CAT ran", "a dog's mat on the sat mat"]))
    np.testing.assert_array_equal(out, [[2, 4, 1, 0, 0], [8, 1, 6, 5, 2]])  # truncated at 5
    ragged = layers.TextVectorization(vocabulary=["x", "y"])
    np.testing.assert_array_equal(_np(ragged(["y", "x x y"])), [[3, 0, 0], [2, 2, 3]])


def test_text_vectorization_bag_modes(backend):
    multi = layers.TextVectorization(output_mode="multi_hot")
    multi.adapt(CORPUS)
    assert multi.get_vocabulary() == ["[UNK]"] + VOCAB
    doc = ["the cat ran the"]
    np.testing.assert_array_equal(_np(multi(doc)), [[1, 1, 0, 1, 0, 0, 0, 0]])
    count = layers.TextVectorization(output_mode="count", vocabulary=VOCAB)
    np.testing.assert_array_equal(_np(count(doc)), [[1, 2, 0, 1, 0, 0, 0, 0]])
    tfidf = layers.TextVectorization(output_mode="tf_idf")
    tfidf.adapt(CORPUS)
    # document frequencies: the 2, sat 2, cat 2; three documents
    idf_2 = math.log(1 + 3 / 3)
    out = _np(tfidf(doc))
    np.testing.assert_allclose(out[0, 1:4], [2 * idf_2, 0.0, idf_2], rtol=1e-6)


def test_text_vectorization_standardize_split_ngrams():
    bi = layers.TextVectorization(ngrams=2, standardize="lower", output_mode="count")
    bi.adapt(["A b A b"])
    # a:2, b:2, "a b":2, "b a":1; ties in descending byte order: "b" > "a b" > "a"
    assert bi.get_vocabulary() == ["[UNK]", "b", "a b", "a", "b a"]
    raw = layers.TextVectorization(standardize=None, split="character")
    raw.adapt(["It's"])
    assert raw.get_vocabulary() == ["", "[UNK]", "t", "s", "I", "'"]
    strip = layers.TextVectorization()
    strip.adapt(["It's ÉTÉ, well-known!"])
    assert sorted(strip.get_vocabulary()[2:]) == ["its", "wellknown", "ÉtÉ"]  # ASCII lower
    back = _clone(bi)
    assert back.get_vocabulary() == bi.get_vocabulary() and back.ngrams == 2


def test_text_vectorization_errors():
    with pytest.raises(ValueError, match="TextVectorization.*output_mode.*'one_hot'"):
        layers.TextVectorization(output_mode="one_hot")
    layer = layers.TextVectorization(name="tv")
    with pytest.raises(ValueError, match=r"'tv'.*\(batch,\).*\(2, 2\)"):
        layer(np.array([["a", "b"], ["c", "d"]], dtype=object))


# -- random augmentation -----------------------------------------------------------------------
def test_random_flip_moves_known_pixel(backend):
    img = np.zeros((16, 3, 4, 1), "float32")
    img[:, 0, 0, 0] = 1.0
    out = _np(layers.RandomFlip("horizontal", seed=3)(img, training=True))
    flipped = out[:, 0, 3, 0] == 1.0
    kept = out[:, 0, 0, 0] == 1.0
    assert np.all(flipped ^ kept) and flipped.any() and kept.any()
    assert out.sum() == 16
    both = _np(layers.RandomFlip(seed=3)(img, training=True))
    corners = both[:, [0, 0, 2, 2], [0, 3, 0, 3], 0]
    assert np.all(corners.sum(1) == 1)
    again = _np(layers.RandomFlip("horizontal", seed=3)(img, training=True))
    np.testing.assert_array_equal(again, out)  # same seed, same draws
    np.testing.assert_array_equal(_np(layers.RandomFlip()(img, training=False)), img)
    # a direct call augments, as Keras 3's image layers (call(data, training=True))
    direct = _np(layers.RandomFlip("horizontal", seed=3)(img))
    np.testing.assert_array_equal(direct, out)


def test_random_affine_layers_fixed_ranges(backend):
    img = np.arange(16.0, dtype="float32").reshape(1, 4, 4, 1)
    down = layers.RandomTranslation((0.5, 0.5), (0.0, 0.0), fill_mode="constant")
    out = _np(down(img, training=True))[0, :, :, 0]
    np.testing.assert_array_equal(out[2:], img[0, :2, :, 0])  # shifted down by 2 rows
    np.testing.assert_array_equal(out[:2], 0)
    rot = layers.RandomRotation((0.25, 0.25))  # a quarter turn, counter-clockwise
    np.testing.assert_allclose(_np(rot(img, training=True))[0, :, :, 0], np.rot90(img[0, :, :, 0]),
                               atol=1e-4)
    zoom = layers.RandomZoom((-0.5, -0.5), interpolation="nearest")  # zoom in x2
    assert _np(zoom(img, training=True)).shape == img.shape
    for layer in (down, rot, zoom):
        np.testing.assert_array_equal(_np(layer(img, training=False)), img)
    # called directly they augment (Keras's default training=True), inside predict they do not
    np.testing.assert_array_equal(_np(down(img))[0, 2:, :, 0], img[0, :2, :, 0])
    model = Sequential([layers.Input((4, 4, 1)), down])
    np.testing.assert_array_equal(model.predict(img, verbose=0), img)
    np.testing.assert_array_equal(_np(model(img))[0, 2:, :, 0], img[0, :2, :, 0])


def test_random_contrast_and_brightness(backend):
    rng = np.random.default_rng(0)
    img = rng.uniform(50, 200, size=(6, 5, 5, 3)).astype("float32")
    out = _np(layers.RandomContrast(0.5, seed=1)(img, training=True))
    mean = img.mean(axis=(1, 2), keepdims=True)
    c = (out - mean)[:, :1, :1, :1] / (img - mean)[:, :1, :1, :1]
    np.testing.assert_allclose(out, np.clip((img - mean) * c + mean, 0, 255), rtol=1e-4,
                               atol=1e-3)
    # Keras 3.15 draws a float factor f in [1, 1 + f] (its lower bound -f is clipped at 0)
    assert np.all((c >= 1 - 1e-5) & (c <= 1.5 + 1e-5))
    bright = _np(layers.RandomBrightness((0.5, 0.5))(img, training=True))
    np.testing.assert_allclose(bright, np.clip(img + 127.5, 0, 255), rtol=1e-6)
    with pytest.raises(ValueError, match=r"RandomBrightness.*\[-1.0, 1.0\].*factor=2"):
        layers.RandomBrightness(2)


def test_random_contrast_factor_as_keras_3_15():
    # Keras 3.15: RandomContrast(0.3).factor == (0, 0.3); a pair is sorted; both in [0, 1]
    cases = {0.3: ((0, 0.3), (1.0, 1.3)), (0.5, 0.2): ((0.2, 0.5), (0.8, 1.5)),
             (0.2, 0.5): ((0.2, 0.5), (0.8, 1.5))}
    for factor, (config, drawn) in cases.items():
        layer = layers.RandomContrast(factor)
        assert tuple(layer.get_config()["factor"]) == config
        np.testing.assert_allclose(layer._range, drawn)
        again = layers.RandomContrast.from_config(layer.get_config())
        np.testing.assert_allclose(again._range, drawn)
    c = layers.RandomContrast(0.4, seed=3)._stream.uniform(
        *layers.RandomContrast(0.4)._range, 4000)
    assert c.min() >= 1.0 and c.max() <= 1.4 and c.mean() > 1.15
    msg = r"`factor` argument should be a number .* in the range \[0, 1\]. Received: factor="
    for bad in (1.5, -0.2, (0.1,), "x", (2, 3)):
        with pytest.raises(ValueError, match=msg):
            layers.RandomContrast(bad)


# -- inside models -----------------------------------------------------------------------------
def test_model_with_rescaling_and_normalization_trains_and_round_trips(tmp_path, round_trip):
    gpunet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) / 255.0)[:, None].astype("float32")
    norm = layers.Normalization()
    norm.adapt(x / 255.0)
    model = Sequential([layers.Input((4,)), layers.Rescaling(1 / 255.0), norm, layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loaded = round_trip(model, x, y, tmp_path)
    np.testing.assert_allclose(loaded.layers[1].get_weights()[0], (x / 255.0).mean(0),
                               rtol=1e-5)


def test_augmentation_model_fits_and_is_identity_at_inference():
    gpunet.utils.set_random_seed(0)
    x = np.random.default_rng(1).uniform(size=(8, 6, 6, 1)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    aug = [layers.RandomFlip(), layers.RandomTranslation(0.1, 0.1), layers.RandomRotation(0.1),
           layers.RandomZoom(0.1), layers.RandomContrast(0.1), layers.RandomBrightness(0.1)]
    model = Sequential([layers.Input((6, 6, 1)), *aug, layers.Flatten(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    w, b = model.layers[-1].get_weights()
    logits = x.reshape(8, -1) @ w + b
    expect = np.exp(logits - logits.max(1, keepdims=True))
    expect /= expect.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expect, rtol=1e-5)


def test_normalization_errors_name_layer():
    layer = layers.Normalization(name="norm")
    layer.adapt(ADAPT)
    with pytest.raises(ValueError,
                       match=r"'norm' expects inputs of rank 2.*received shape \(2, 3, 1\)"):
        layer(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match=r"'norm' was built for input shape \(None, 3\).*"
                                         r"\(2, 4\)"):
        layer.adapt(np.ones((2, 4)))


def test_lookup_and_discretization_models_save_and_load(tmp_path):
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(np.array([3, 3, 4, 9]))
    disc = layers.Discretization(num_bins=2)
    disc.adapt(np.array([0.0, 1.0, 2.0, 3.0]))
    for pre, x in ((lookup, np.array([[3], [4], [7]])), (disc, np.array([[0.5], [2.5], [9.0]]))):
        model = Sequential([layers.Input((1,)), pre, layers.Flatten(), layers.Dense(1)])
        model.save(tmp_path / "m.h5")
        loaded = gpunet.models.load_model(tmp_path / "m.h5", compile=False)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Keras's summary: the value where the empirical CDF reaches 1/2 (not the median 1.5)
    assert loaded.layers[0].bin_boundaries == disc.bin_boundaries == [1.0]


def test_unseeded_augmentation_follows_global_seed():
    img = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    outs = []
    for _ in range(2):
        gpunet.utils.set_random_seed(5)
        outs.append(_np(layers.RandomRotation(0.3)(img, training=True)))
    np.testing.assert_array_equal(outs[0], outs[1])
