"""Tokenizer and text helpers against hand-computed Keras 2 results."""

import hashlib
import json
import math
from collections import OrderedDict

import numpy as np
import pytest

from gpunet.preprocessing import text
from gpunet.preprocessing.text import (
    Tokenizer,
    hashing_trick,
    one_hot,
    text_to_word_sequence,
    tokenizer_from_json,
)

CORPUS = ["The cat sat on the mat.", "The dog ate my homework!", "cat and dog"]
# counts: the 3, cat 2, sat 1, on 1, mat 1, dog 2, ate 1, my 1, homework 1, and 1
# rank by count (ties by first appearance): the, cat, dog, sat, on, mat, ate, my, homework, and
EXPECTED_INDEX = {"the": 1, "cat": 2, "dog": 3, "sat": 4, "on": 5, "mat": 6, "ate": 7, "my": 8,
                  "homework": 9, "and": 10}


def fitted(**kwargs):
    tok = Tokenizer(**kwargs)
    tok.fit_on_texts(CORPUS)
    return tok


def test_text_to_word_sequence_filters_lower_split():
    assert text_to_word_sequence("Hello, World!\tIt's  me.") == ["hello", "world", "it's", "me"]
    assert text_to_word_sequence("A-B c", lower=False) == ["A", "B", "c"]
    assert text_to_word_sequence("a;b;c", filters="", split=";") == ["a", "b", "c"]


def test_word_index_ranks_by_count_then_first_appearance():
    tok = fitted()
    assert tok.word_index == EXPECTED_INDEX
    assert tok.index_word == {i: w for w, i in EXPECTED_INDEX.items()}
    assert isinstance(tok.word_counts, OrderedDict)
    assert list(tok.word_counts.items()) == [
        ("the", 3), ("cat", 2), ("sat", 1), ("on", 1), ("mat", 1), ("dog", 2), ("ate", 1),
        ("my", 1), ("homework", 1), ("and", 1)]
    assert tok.word_docs["the"] == 2 and tok.word_docs["cat"] == 2 and tok.word_docs["mat"] == 1
    assert tok.index_docs[1] == 2 and tok.index_docs[3] == 2 and tok.index_docs[10] == 1
    assert tok.document_count == 3


def test_texts_to_sequences_and_back():
    tok = fitted()
    assert tok.texts_to_sequences(["The cat and the dog, unknown"]) == [[1, 2, 10, 1, 3]]
    assert list(tok.texts_to_sequences_generator(["my mat"])) == [[8, 6]]
    assert tok.sequences_to_texts([[1, 2, 10, 99]]) == ["the cat and"]


def test_num_words_filters_only_at_conversion():
    tok = fitted(num_words=4)
    assert len(tok.word_index) == 10  # not shrunk
    assert tok.texts_to_sequences(["the cat and the dog sat"]) == [[1, 2, 1, 3]]
    assert tok.sequences_to_texts([[1, 4, 3]]) == ["the dog"]
    assert tok.texts_to_matrix(["the sat"], mode="count").shape == (1, 4)


def test_oov_token_takes_index_one():
    tok = fitted(oov_token="<OOV>")
    assert tok.word_index["<OOV>"] == 1
    assert tok.word_index["the"] == 2 and tok.word_index["and"] == 11
    assert tok.texts_to_sequences(["the zebra cat"]) == [[2, 1, 3]]
    assert tok.sequences_to_texts([[2, 50, 3]]) == ["the <OOV> cat"]
    tok = fitted(oov_token="<OOV>", num_words=3)  # keeps indices 1, 2
    assert tok.texts_to_sequences(["the zebra cat"]) == [[2, 1, 1]]


def test_char_level_counts_every_character_without_filters():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abCa b!"])
    # a:2, b:2, c:1, ' ':1, '!':1 in first-appearance order for ties
    assert tok.word_index == {"a": 1, "b": 2, "c": 3, " ": 4, "!": 5}
    assert tok.texts_to_sequences(["cab"]) == [[3, 1, 2]]


def test_lists_of_tokens_are_taken_as_is():
    tok = Tokenizer()
    tok.fit_on_texts([["Hello", "world!"], ["hello"]])
    assert tok.word_index == {"hello": 1, "world!": 2}
    assert tok.texts_to_sequences([["world!", "HELLO"]]) == [[2, 1]]


def test_texts_to_matrix_all_modes_hand_computed():
    tok = fitted()
    docs = ["the cat the", "dog"]
    binary = tok.texts_to_matrix(docs, mode="binary")
    assert binary.shape == (2, 11)
    expected = np.zeros((2, 11))
    expected[0, [1, 2]] = 1
    expected[1, 3] = 1
    np.testing.assert_array_equal(binary, expected)

    count = tok.texts_to_matrix(docs, mode="count")
    expected = np.zeros((2, 11))
    expected[0, 1], expected[0, 2], expected[1, 3] = 2, 1, 1
    np.testing.assert_array_equal(count, expected)

    freq = tok.texts_to_matrix(docs, mode="freq")
    expected = np.zeros((2, 11))
    expected[0, 1], expected[0, 2], expected[1, 3] = 2 / 3, 1 / 3, 1.0
    np.testing.assert_allclose(freq, expected)

    tfidf = tok.texts_to_matrix(docs, mode="tfidf")
    # 3 documents; "the", "cat", "dog" each occur in 2 -> idf = ln(1 + 3 / 3) = ln 2
    expected = np.zeros((2, 11))
    expected[0, 1] = (1 + math.log(2)) * math.log(2)
    expected[0, 2] = 1 * math.log(2)
    expected[1, 3] = math.log(2)
    np.testing.assert_allclose(tfidf, expected)
    np.testing.assert_allclose(tfidf[0, 1], 1.1736002, rtol=1e-6)  # 0.6931 + 0.6931 ** 2


def test_sequences_to_matrix_and_fit_on_sequences():
    tok = Tokenizer(num_words=5)
    tok.fit_on_sequences([[1, 2, 2], [2, 3]])
    assert tok.document_count == 2 and tok.index_docs[2] == 2 and tok.index_docs[1] == 1
    m = tok.sequences_to_matrix([[1, 2, 2, 7]], mode="tfidf")
    expected = [0, math.log(1 + 2 / 2), (1 + math.log(2)) * math.log(1 + 2 / 3), 0, 0]
    np.testing.assert_allclose(m[0], expected)
    freq = tok.sequences_to_matrix([[1, 2, 2, 7]], mode="freq")  # length counts dropped ids
    np.testing.assert_allclose(freq[0], [0, 0.25, 0.5, 0, 0])


def test_matrix_errors():
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="tfidf"):
        Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="mode"):
        fitted().texts_to_matrix(["the"], mode="bm25")


def test_to_json_round_trip():
    tok = fitted(oov_token="<OOV>", num_words=6)
    payload = json.loads(tok.to_json())
    assert payload["class_name"] == "Tokenizer"
    assert isinstance(payload["config"]["word_index"], str)  # Keras stores JSON strings
    restored = tokenizer_from_json(tok.to_json())
    assert restored.word_index == tok.word_index
    assert restored.index_word == tok.index_word
    assert list(restored.word_counts.items()) == list(tok.word_counts.items())
    assert dict(restored.index_docs) == dict(tok.index_docs)
    assert restored.num_words == 6 and restored.oov_token == "<OOV>"
    assert restored.document_count == 3
    assert restored.texts_to_sequences(["the zebra cat sat"]) == \
        tok.texts_to_sequences(["the zebra cat sat"])
    np.testing.assert_array_equal(restored.texts_to_matrix(CORPUS, "tfidf"),
                                  tok.texts_to_matrix(CORPUS, "tfidf"))
    assert tok.get_config()["document_count"] == 3


def test_hashing_trick_md5_and_one_hot():
    expected = [int(hashlib.md5(w.encode()).hexdigest(), 16) % 9 + 1 for w in ["hello", "world"]]
    assert hashing_trick("Hello, world!", 10, hash_function="md5") == expected
    assert hashing_trick("a b", 5, hash_function=len) == [len("a") % 4 + 1, len("b") % 4 + 1]
    idx = one_hot("The cat the", 7)
    assert len(idx) == 3 and idx[0] == idx[2] and all(1 <= i <= 6 for i in idx)
    with pytest.raises(ValueError, match="hashing space"):
        hashing_trick("a", 1)


def test_module_exports():
    assert set(text.__all__) >= {"Tokenizer", "tokenizer_from_json", "one_hot", "hashing_trick",
                                 "text_to_word_sequence"}
