"""MixUp and CutMix beyond the replayed Keras values (test_augment_keras.py): images and labels
mixed together from a dict (checked with the formulas, the weights read back from one-hot
labels), single images, segmentation masks, the Beta draws' statistics, seeds, errors, training
inside a Sequential model and .keras round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd import Tensor


def _np(t):
    return gpunet.backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _images(n=6, h=8, w=8, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, h, w, 3)).astype("float32")


def test_mixup_mixes_images_and_labels_with_one_weight_per_pair(backend):
    n = 6
    x = _images(n)
    out = layers.MixUp(alpha=0.8, seed=3)({"images": backend.asarray(x),
                                           "labels": np.eye(n, dtype="float32")})
    y, lab = _np(out["images"]), _np(out["labels"])
    assert lab.dtype == np.float32 and np.allclose(lab.sum(1), 1.0)
    for i in range(n):  # row i = w e_i + (1 - w) e_perm(i)
        others = [j for j in range(n) if j != i and lab[i, j] > 0]
        j = others[0] if others else i
        w = lab[i, i] if j != i else 1.0
        np.testing.assert_allclose(y[i], w * x[i] + (1 - w) * x[j], rtol=1e-5, atol=1e-3)
    perm = [int(np.argmax(np.where(np.arange(n) == i, -1, lab[i]))) if lab[i, i] < 1 else i
            for i in range(n)]
    assert sorted(perm) == list(range(n))  # a permutation of the batch


def test_cutmix_pastes_a_rectangle_and_weights_labels_by_area(backend):
    n, h, w = 5, 32, 24
    x = np.broadcast_to(np.arange(1.0, n + 1, dtype="float32")[:, None, None, None],
                        (n, h, w, 3)).copy()
    out = layers.CutMix(seed=5)({"images": backend.asarray(x),
                                 "labels": np.eye(n, dtype="float32")})
    y, lab = _np(out["images"]), _np(out["labels"])
    for i in range(n):
        pasted = y[i, :, :, 0] != i + 1
        j = int(y[i, :, :, 0][pasted][0]) - 1 if pasted.any() else i
        assert set(np.unique(y[i])) <= {i + 1.0, j + 1.0}
        rows, cols = pasted.any(1), pasted.any(0)
        assert pasted.sum() == rows.sum() * cols.sum()  # one filled rectangle
        assert np.all(y[i][pasted] == j + 1)
        if j != i:
            area = 1.0 - lab[i, i]
            assert abs(lab[i, j] - area) < 1e-5
            assert abs(pasted.mean() - area) <= (h + w + 1) / (h * w)


def test_single_images_have_no_partner(backend):
    x = _images(1)[0]
    label = np.array([0.0, 1.0, 0.0], "float32")
    out = layers.MixUp(seed=1)({"images": x, "labels": label})
    np.testing.assert_allclose(_np(out["images"]), x, rtol=1e-6)
    np.testing.assert_allclose(_np(out["labels"]), label)
    assert layers.CutMix().get_random_transformation(x) is None
    np.testing.assert_array_equal(_np(layers.CutMix(seed=1)(x)), x)


def test_segmentation_masks_follow_the_images(backend):
    x = np.broadcast_to(np.arange(1.0, 5, dtype="float32")[:, None, None, None],
                        (4, 16, 16, 3)).copy()
    masks = x[..., :1].astype("int32")  # one channel, the image's number
    out = layers.CutMix(seed=2)({"images": x, "segmentation_masks": masks})
    np.testing.assert_array_equal(_np(out["segmentation_masks"]), _np(out["images"])[..., :1])
    out = layers.MixUp(seed=2)({"images": x, "segmentation_masks": masks})
    np.testing.assert_allclose(_np(out["segmentation_masks"]), _np(out["images"])[..., :1],
                               rtol=1e-6)


def test_beta_draw_statistics(backend):
    n = 4000
    x = backend.asarray(np.zeros((n, 4, 4, 1), "float32"))
    t = layers.MixUp(alpha=0.4, seed=1).get_random_transformation(x)
    w = _np(t["mix_weight"])
    assert t["permutation_order"].dtype == np.int64
    assert sorted(_np(t["permutation_order"]).tolist()) == list(range(n))
    assert abs(w.mean() - 0.5) < 0.02 and abs(w.var() - 1 / (4 * (2 * 0.4 + 1))) < 0.01
    t = layers.CutMix(factor=(0.5, 0.5), seed=1).get_random_transformation(
        backend.asarray(np.zeros((n, 16, 16, 1), "float32")))
    mw = _np(t["mix_weight"])
    assert t["permutation_order"].dtype == np.int32 and mw.shape == (n, 1, 1, 1)
    assert abs(mw.mean() - 0.5) < 0.02 and abs(mw.var() - 1 / 8) < 0.01  # Beta(1/2, 1/2)


@pytest.mark.parametrize("cls", [layers.MixUp, layers.CutMix])
def test_seeds_and_training_flag(backend, cls):
    x = backend.asarray(_images())
    a = _np(cls(seed=4)(x))
    np.testing.assert_array_equal(_np(cls(seed=4)(x)), a)
    assert not np.array_equal(a, _np(x))
    np.testing.assert_array_equal(_np(cls(seed=4)(x, training=False)), _np(x))
    labels = np.eye(6, dtype="float32")
    out = cls(seed=4)({"images": x, "labels": labels}, training=False)
    np.testing.assert_array_equal(_np(out["labels"]), labels)


def test_errors():
    with pytest.raises(ValueError, match="MixUp.*alpha.*positive.*alpha=0"):
        layers.MixUp(alpha=0)
    with pytest.raises(ValueError, match=r"\[0, 1\].*factor=1.5"):
        layers.CutMix(factor=1.5)
    with pytest.raises(ValueError, match=r"'mix'.*\(batch, classes\).*\(4,\)"):
        layers.MixUp(name="mix")({"images": _images(4), "labels": np.arange(4)})


def test_mixing_layers_in_a_model_train_and_round_trip(backend, tmp_path):
    gpunet.utils.set_random_seed(0)
    x = _images(8, 6, 6)
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    model = Sequential([layers.Input((6, 6, 3)), layers.MixUp(0.3, seed=1),
                        layers.CutMix(seed=2, data_format="channels_last"),
                        layers.Rescaling(1 / 255.0), layers.Flatten(), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    w, b = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               (x / 255.0).reshape(8, -1) @ w + b, rtol=1e-4, atol=1e-5)
    model.save(tmp_path / "mix.keras")
    loaded = gpunet.models.load_model(tmp_path / "mix.keras", compile=False)
    for a, c in zip(model.layers, loaded.layers):
        assert json.dumps(a.get_config()) == json.dumps(c.get_config())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("cls", [layers.MixUp, layers.CutMix])
def test_labels_pass_untouched_outside_training(backend, cls):
    labels = np.array([0, 2, 1, 1])  # sparse labels: Keras returns them as they are
    out = cls(seed=1)({"images": _images(4), "labels": labels}, training=False)
    got = _np(out["labels"])
    assert got.dtype == labels.dtype
    np.testing.assert_array_equal(got, labels)
