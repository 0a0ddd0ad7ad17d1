"""The keras.io guide "Working with preprocessing layers", its cells run with gpunet, against
the outputs keras.io publishes for it (computed by Keras with TensorFlow; Keras 3 on JAX
cannot run these layers: they need TensorFlow there)."""

from __future__ import annotations

import numpy as np

from gpunet import layers

POEM = ["The Brain is wider than the Sky", "For put them side by side",
        "The one the other will contain", "With ease and You beside"]
GREEK = ["ξεῖν᾽, ἦ τοι μὲν ὄνειροι ἀμήχανοι ἀκριτόμυθοι",
         "γίγνοντ᾽, οὐδέ τι πάντα τελείεται ἀνθρώποισι.",
         "δοιαὶ γάρ τε πύλαι ἀμενηνῶν εἰσὶν ὀνείρων:",
         "αἱ μὲν γὰρ κεράεσσι τετεύχαται, αἱ δ᾽ ἐλέφαντι:",
         "τῶν οἳ μέν κ᾽ ἔλθωσι διὰ πριστοῦ ἐλέφαντος,",
         "οἵ ῥ᾽ ἐλεφαίρονται, ἔπε᾽ ἀκράαντα φέροντες:",
         "οἱ δὲ διὰ ξεστῶν κεράων ἔλθωσι θύραζε,",
         "οἵ ῥ᾽ ἔτυμα κραίνουσι, βροτῶν ὅτε κέν τις ἴδηται."]


def test_tf_idf_spelling_of_the_guide_is_accepted_and_gives_the_published_weights():
    vec = layers.TextVectorization(output_mode="tf-idf", ngrams=2)  # Keras 3 maps it to tf_idf
    assert vec.get_config()["output_mode"] == "tf_idf"
    vec.adapt(np.array(POEM))
    out = np.asarray(vec(["The Brain is deeper than the sea"]))
    want = np.zeros((1, 41), np.float32)
    want[0, :2] = [5.461647, 1.6945957]
    want[0, [16, 17, 18, 28, 36, 37]] = 1.0986123
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_int_and_multi_hot_vectors_are_the_published_ones():
    vec = layers.TextVectorization(output_mode="int")
    vec.adapt(np.array(POEM))
    np.testing.assert_array_equal(np.asarray(vec(["The Brain is deeper than the sea"])),
                                  [[2, 19, 14, 1, 9, 2, 1]])
    vec = layers.TextVectorization(output_mode="multi_hot", ngrams=2)
    vec.adapt(np.array(POEM))
    want = np.zeros((1, 41), np.float32)
    want[0, [0, 1, 16, 17, 18, 28, 36, 37]] = 1.0
    np.testing.assert_array_equal(np.asarray(vec(["The Brain is deeper than the sea"])), want)
    greek = layers.TextVectorization()
    greek.adapt(GREEK)
    np.testing.assert_array_equal(np.asarray(greek(GREEK)), [
        [37, 12, 25, 5, 9, 20, 21, 0, 0], [51, 34, 27, 33, 29, 18, 0, 0, 0],
        [49, 52, 30, 31, 19, 46, 10, 0, 0], [7, 5, 50, 43, 28, 7, 47, 17, 0],
        [24, 35, 39, 40, 3, 6, 32, 16, 0], [4, 2, 15, 14, 22, 23, 0, 0, 0],
        [36, 48, 6, 38, 42, 3, 45, 0, 0], [4, 2, 13, 41, 53, 8, 44, 26, 11]])


def test_lookups_one_hot_as_published():
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(np.array([["a"], ["b"], ["c"], ["b"], ["c"], ["a"]]))
    np.testing.assert_array_equal(
        np.asarray(lookup(np.array([["a"], ["b"], ["c"], ["d"], ["e"], [""]]))),
        [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(np.array([[10], [20], [20], [10], [30], [0]]))
    np.testing.assert_array_equal(
        np.asarray(lookup(np.array([[10], [10], [20], [50], [60], [0]]))),
        [[0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0],
         [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(
        np.asarray(layers.StringLookup(vocabulary=["a", "b", "c", "d"])(
            np.array([["a", "c", "d"], ["d", "z", "b"]]))), [[1, 3, 4], [4, 0, 2]])
