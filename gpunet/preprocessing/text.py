"""Text tokenisation and vectorisation with Keras 2's `Tokenizer` semantics."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Tokenizer",
    "hashing_trick",
    "one_hot",
    "text_to_word_sequence",
    "tokenizer_from_json",
]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(
    input_text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Splits a text into a list of words.

    Args:
        input_text: the text.
        filters: characters replaced by `split` before splitting (default: all ASCII
            punctuation except `'`, plus tab and newline).
        lower: lower-case the text first.
        split: word separator.

    Returns:
        The list of non-empty words.

    Example:

    >>> text_to_word_sequence("Hello, World!  It's me.")
    ['hello', 'world', "it's", 'me']
    """
    if not isinstance(input_text, str):
        raise TypeError(f"`input_text` must be a str; received {type(input_text).__name__}.")
    if lower:
        input_text = input_text.lower()
    if filters:
        input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


def hashing_trick(
    text: str,
    n: int,
    hash_function: Callable[[str], int] | str | None = None,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
) -> list[int]:
    """Maps each word of a text to an index in `[1, n - 1]` by hashing.

    Args:
        text: the text.
        n: size of the hashing space (index 0 is never produced).
        hash_function: `None` for Python's `hash` (salted per process unless
            `PYTHONHASHSEED` is set), `"md5"` for a stable hash, or a `str -> int` function.
        filters, lower, split: as in `text_to_word_sequence`.

    Returns:
        One integer per word: `hash(word) % (n - 1) + 1`.

    Example:

    >>> hashing_trick("a b a", 10, hash_function="md5")[0] == hashing_trick("a", 10, "md5")[0]
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(
            f"`n` (size of the hashing space) must be an integer >= 2; received {n!r}."
        )
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(w: str) -> int:
            return int(hashlib.md5(w.encode()).hexdigest(), 16)
    elif not callable(hash_function):
        raise ValueError(
            f"`hash_function` must be None, 'md5' or a callable; received {hash_function!r}."
        )
    words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [hash_function(w) % (n - 1) + 1 for w in words]


def one_hot(
    input_text: str, n: int, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[int]:
    """Encodes a text as word indices in `[1, n - 1]` using Python's `hash`.

    A wrapper of `hashing_trick(input_text, n, hash_function=hash, ...)`; different words can
    share an index.

    Args:
        input_text: the text.
        n: size of the vocabulary.
        filters, lower, split: as in `text_to_word_sequence`.

    Returns:
        One integer per word.
    """
    return hashing_trick(input_text, n, hash_function=hash, filters=filters, lower=lower,
                         split=split)


class Tokenizer:
    """Turns texts into integer sequences or vectors (Keras 2 `Tokenizer`).

    Index 0 is reserved. `word_index` ranks words by count, highest first, ties in order of
    first appearance; an `oov_token` takes index 1. `num_words` does not shrink `word_index`:
    conversions keep only indices `< num_words`.

    Args:
        num_words: keep only indices `< num_words` at conversion time (`None`: all).
        filters: characters removed from texts (replaced by `split`).
        lower: lower-case texts.
        split: word separator.
        char_level: every character is a token (filters are not applied).
        oov_token: token standing for out-of-vocabulary words in `texts_to_sequences`.
        document_count: initial document count (used when restoring from JSON).

    Example:

    >>> tok = Tokenizer()
    >>> tok.fit_on_texts(["the cat", "the dog"])
    >>> tok.word_index
    {'the': 1, 'cat': 2, 'dog': 3}
    >>> tok.texts_to_sequences(["the dog and the cat"])
    [[1, 3, 1, 2]]
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = DEFAULT_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        document_count: int = 0,
        **kwargs: Any,
    ):
        if "nb_words" in kwargs:
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments for Tokenizer: {sorted(kwargs)}.")
        if num_words is not None and (isinstance(num_words, bool)
                                      or not isinstance(num_words, (int, np.integer))
                                      or num_words < 0):
            raise ValueError(
                f"`num_words` must be None or a non-negative integer; received {num_words!r}."
            )
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def _tokens(self, text: str | list[str]) -> list[str]:
        if isinstance(text, list):
            return [t.lower() for t in text] if self.lower else list(text)
        if self.char_level:
            return list(text.lower() if self.lower else text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str | list[str]]) -> None:
        """Updates the vocabulary from texts.

        Args:
            texts: strings, or lists of tokens (taken as they are, only lower-cased).
        """
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of strings, not a single string.")
        for text in texts:
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocab = [] if self.oov_token is None else [self.oov_token]
        vocab.extend(w for w, _ in ranked if w != self.oov_token)
        self.word_index = {w: i for i, w in enumerate(vocab, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences: Iterable[Iterable[int]]) -> None:
        """Updates the document statistics from integer sequences (for `sequences_to_matrix`).

        Args:
            sequences: lists of word indices.
        """
        sequences = list(sequences)
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def texts_to_sequences_generator(self, texts: Iterable[str | list[str]]) -> Iterator[list[int]]:
        """Yields the integer sequence of each text (see `texts_to_sequences`)."""
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of strings, not a single string.")
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            vect = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and not (num_words and i >= num_words):
                    vect.append(i)
                elif oov_index is not None:
                    vect.append(oov_index)
            yield vect

    def texts_to_sequences(self, texts: Iterable[str | list[str]]) -> list[list[int]]:
        """Converts texts to lists of word indices.

        Unknown words, and words with index `>= num_words`, are dropped, or become the
        `oov_token` index when one is set.

        Args:
            texts: strings or lists of tokens.

        Returns:
            One list of integers per text.
        """
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences: Iterable[Iterable[int]]) -> Iterator[str]:
        """Yields the text of each sequence (see `sequences_to_texts`)."""
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for seq in sequences:
            words = []
            for num in seq:
                word = self.index_word.get(num)
                if word is not None and not (num_words and num >= num_words):
                    words.append(word)
                elif oov_index is not None:
                    words.append(self.index_word[oov_index])
            yield " ".join(words)

    def sequences_to_texts(self, sequences: Iterable[Iterable[int]]) -> list[str]:
        """Converts lists of word indices back to space-joined texts.

        Args:
            sequences: lists of integers.

        Returns:
            One string per sequence.
        """
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts: Iterable[str | list[str]], mode: str = "binary") -> np.ndarray:
        """Converts texts to a `(len(texts), width)` matrix (see `sequences_to_matrix`)."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Iterable[Iterable[int]], mode: str = "binary"
                            ) -> np.ndarray:
        """Converts integer sequences to a bag-of-words matrix.

        Args:
            sequences: lists of word indices.
            mode: `"binary"` (1 where present), `"count"`, `"freq"` (count / sequence
                length) or `"tfidf"` (`(1 + ln count) * ln(1 + docs / (1 + doc_freq))`).

        Returns:
            A float64 matrix of width `num_words` (or `len(word_index) + 1`); indices past the
            width are ignored.
        """
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}; received {mode!r}.")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text "
                             "data first.")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        sequences = [list(seq) for seq in sequences]
        x = np.zeros((len(sequences), width))
        for i, seq in enumerate(sequences):
            if not seq:
                continue
            ids = np.asarray(seq, dtype=np.int64)
            counts = np.bincount(ids[(ids >= 0) & (ids < width)], minlength=width)
            present = np.flatnonzero(counts)
            c = counts[present].astype(np.float64)
            if mode == "count":
                x[i, present] = c
            elif mode == "freq":
                x[i, present] = c / len(seq)
            elif mode == "binary":
                x[i, present] = 1.0
            else:
                df = np.array([self.index_docs.get(j, 0) for j in present], dtype=np.float64)
                x[i, present] = (1 + np.log(c)) * np.log(1 + self.document_count / (1 + df))
        return x

    def get_config(self) -> dict[str, Any]:
        """Returns the configuration and vocabulary (dict-valued entries as JSON strings)."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs: Any) -> str:
        """Serialises the tokenizer (Keras's format); load it with `tokenizer_from_json`.

        Args:
            **kwargs: passed to `json.dumps`.

        Returns:
            A JSON string `{"class_name": "Tokenizer", "config": {...}}`.
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuilds a `Tokenizer` from `Tokenizer.to_json()` output (also Keras's).

    Args:
        json_string: the JSON text.

    Returns:
        A fitted `Tokenizer`.

    Example:

    >>> tok = Tokenizer(); tok.fit_on_texts(["a b b"])
    >>> tokenizer_from_json(tok.to_json()).word_index
    {'b': 1, 'a': 2}
    """
    payload = json.loads(json_string)
    config = dict(payload.get("config", payload))
    try:
        word_counts = json.loads(config.pop("word_counts"), object_pairs_hook=OrderedDict)
        word_docs = json.loads(config.pop("word_docs"))
        index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
        index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
        word_index = json.loads(config.pop("word_index"))
    except KeyError as err:
        raise ValueError(f"Not a Tokenizer JSON: the config lacks {err.args[0]!r}.") from err
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = word_counts
    tokenizer.word_docs = defaultdict(int, word_docs)
    tokenizer.index_docs = defaultdict(int, index_docs)
    tokenizer.index_word = index_word
    tokenizer.word_index = word_index
    return tokenizer
