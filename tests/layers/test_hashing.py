"""``Hashing`` gives Keras's bins: FarmHash ``Fingerprint64`` against Google's FarmHash
(``tests/fixtures/farmhash.json``, made by ``make_farmhash_fixture.py``), SipHash-2-4 against
the published vectors of its authors, and the layer against the examples of Keras 3's
``Hashing`` docstring (Keras computes them with TensorFlow)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet as keras
from gpunet.layers import Hashing
from gpunet.layers.preprocessing._hashes import fingerprint64, siphash24

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                       "farmhash.json")
LETTERS = [["A"], ["B"], ["C"], ["D"], ["E"]]


@pytest.fixture(scope="module")
def ref():
    with open(FIXTURE) as f:
        return json.load(f)


def test_fingerprint64_is_farmhash(ref):
    for hexed, want in ref["bytes"]:  # every length 0..130 (all code paths), then longer
        assert fingerprint64(bytes.fromhex(hexed)) == int(want), len(hexed) // 2
    for text, want in ref["utf8"]:
        assert fingerprint64(text.encode("utf-8")) == int(want)


def test_siphash24_published_vectors():
    k0, k1 = 0x0706050403020100, 0x0F0E0D0C0B0A0908  # key 00 01 .. 0f
    assert siphash24(k0, k1, b"") == 0x726FDB47DD0E0E31
    assert siphash24(k0, k1, bytes(range(1))) == 0x74F839C593DC67FD
    assert siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5  # the paper's example


def test_keras_docstring_examples(backend):
    # Keras 3's Hashing docstring: FarmHash64, with a mask value, SipHash64 with two salts,
    # and with one salt
    np.testing.assert_array_equal(Hashing(num_bins=3)(LETTERS).numpy(),
                                  [[1], [0], [1], [1], [2]])
    np.testing.assert_array_equal(
        Hashing(num_bins=3, mask_value="")([["A"], ["B"], [""], ["C"], ["D"]]).numpy(),
        [[1], [1], [0], [2], [2]])
    np.testing.assert_array_equal(Hashing(num_bins=3, salt=[133, 137])(LETTERS).numpy(),
                                  [[1], [2], [1], [0], [2]])
    np.testing.assert_array_equal(Hashing(num_bins=3, salt=133)(LETTERS).numpy(),
                                  [[0], [0], [2], [1], [0]])


def test_integers_and_floats_hash_as_their_decimal_strings(backend, ref):
    ints = np.array([[i] for i, _ in ref["ints"]], np.int64)
    want = np.array([[int(h) % 1000] for _, h in ref["ints"]])
    out = Hashing(num_bins=1000)(ints)
    assert out.dtype == "int64" and out.shape == ints.shape
    np.testing.assert_array_equal(out.numpy(), want)
    floats = np.array([[0.2], [7.9], [42.0]], np.float32)  # cast to int64 first, as Keras
    np.testing.assert_array_equal(Hashing(num_bins=1000)(floats).numpy(), want[:3])
    masked = Hashing(num_bins=1001, mask_value=7)(ints).numpy()
    np.testing.assert_array_equal(masked, np.where(ints == 7, 0, want + 1))


def test_output_modes(backend):
    x = np.array([["A"], ["B"], ["E"]])
    bins = Hashing(num_bins=3)(x).numpy()[:, 0]
    np.testing.assert_array_equal(Hashing(3, output_mode="one_hot")(x).numpy(), np.eye(3)[bins])
    pairs = np.array([["A", "C"], ["B", "B"]])
    b = Hashing(3)(pairs).numpy()
    np.testing.assert_array_equal(Hashing(3, output_mode="count")(pairs).numpy(),
                                  [np.bincount(r, minlength=3) for r in b])
    np.testing.assert_array_equal(Hashing(3, output_mode="multi_hot")(pairs).numpy(),
                                  [np.bincount(r, minlength=3) > 0 for r in b])
    assert Hashing(3, output_mode="count").compute_output_shape((None, 2)) == (None, 3)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="num_bins"):
        Hashing(num_bins=0)
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=3, salt="pepper")
    with pytest.raises(ValueError, match="output_mode"):
        Hashing(num_bins=3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="sparse"):
        Hashing(num_bins=3, output_mode="count", sparse=True)
    with pytest.raises(ValueError, match="dtype"):
        Hashing(num_bins=3, dtype="float32")


def test_in_a_string_model_saved_and_loaded(backend, tmp_path):
    inp = keras.Input((1,), dtype="string")
    model = keras.Model(inp, Hashing(num_bins=5, salt=[3, 4], name="h")(inp))
    x = np.array([["red"], ["green"], ["blue"]])
    want = [[siphash24(3, 4, s[0].encode()) % 5] for s in x]
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)
    path = str(tmp_path / "h.keras")
    model.save(path)
    back = keras.models.load_model(path, compile=False)
    assert back.get_layer("h").get_config()["salt"] == [3, 4]
    np.testing.assert_array_equal(back.predict(x, verbose=0), want)
