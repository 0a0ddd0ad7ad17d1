"""TextVectorization with a callable ``standardize``: as in Keras, the callable gets the whole
batch in the shape passed to the layer ("the data received by the callable will be exactly as
passed to this layer", Keras's TextVectorization docs) and returns strings of that shape, so
the NumPy port of the keras.io text-classification example's ``custom_standardization``
(lower-case, drop ``<br />``, strip punctuation) works; a ``str -> str`` function still works.
The expected vocabularies are written out by hand."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from gpunet import layers

DOCS = ["Great film.<br /><br />Loved it!", "Awful, DULL film<br />"]


def numpy_standardization(input_data):
    lowercase = np.char.lower(np.asarray(input_data, dtype=str))
    stripped_html = np.char.replace(lowercase, "<br />", " ")
    table = str.maketrans("", "", string.punctuation)
    return np.vectorize(lambda s: s.translate(table), otypes=[object])(stripped_html)


def test_batch_callable_gets_the_batch_in_its_shape():
    seen = []

    def spy(batch):
        seen.append((type(batch), batch.shape))
        return numpy_standardization(batch)

    v = layers.TextVectorization(standardize=spy, output_sequence_length=4)
    v.adapt(np.array(DOCS, dtype=object))
    assert seen == [(np.ndarray, (2,))]
    assert v.get_vocabulary() == ["", "[UNK]", "film", "loved", "it", "great", "dull",
                                  "awful"]
    out = v(np.array([["Loved, DULL film!"], ["great <br />it"]], dtype=object))
    assert seen[-1] == (np.ndarray, (2, 1))
    np.testing.assert_array_equal(np.asarray(out.numpy()), [[3, 6, 2, 0], [5, 4, 0, 0]])


def test_str_to_str_callable_is_applied_per_string():
    v = layers.TextVectorization(
        standardize=lambda s: re.sub(r"<br\s*/?>", " ", s.lower()).replace("!", ""))
    v.adapt(["Great!<br />great GREAT dull"])
    assert v.get_vocabulary() == ["", "[UNK]", "great", "dull"]


def test_callable_returning_no_strings_raises():
    v = layers.TextVectorization(standardize=lambda s: len(s), name="tv")
    with pytest.raises(TypeError, match="'tv'.*`standardize` must return strings"):
        v.adapt(["a b"])
