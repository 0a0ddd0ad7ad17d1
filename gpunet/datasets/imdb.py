"""IMDB movie-review sentiment classification dataset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet.utils.data_utils import get_file, load_npz

__all__ = ["load_data", "get_word_index"]

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ACCEPTED_HASHES: tuple[str, ...] = (
    "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
)
# Keras checks the word index with md5.
WORD_INDEX_MD5: tuple[str, ...] = ("bfafd718b763782e994055a2d397834f",)


# -- helpers shared with `reuters` -------------------------------------------------------------


def _remove_long_seq(
    maxlen: int, seqs: Sequence[list[int]], labels: Sequence[Any]
) -> tuple[list[list[int]], list[Any]]:
    """Keeps the sequences strictly shorter than `maxlen` (Keras's `remove_long_seq`)."""
    new_seqs, new_labels = [], []
    for x, y in zip(seqs, labels):
        if len(x) < maxlen:
            new_seqs.append(x)
            new_labels.append(y)
    return new_seqs, new_labels


def _shift(seqs: Sequence[Any], start_char: int | None, index_from: int) -> list[list[int]]:
    """Prepends `start_char` (unless None) and adds `index_from` to every word index."""
    if start_char is not None:
        return [[start_char] + [int(w) + index_from for w in x] for x in seqs]
    return [[int(w) + index_from for w in x] for x in seqs]


def _limit_vocabulary(
    seqs: list[list[int]], num_words: int | None, skip_top: int, oov_char: int | None
) -> list[list[int]]:
    """Replaces (or drops, when `oov_char` is None) indices outside `[skip_top, num_words)`."""
    if not num_words:
        # As in Keras: the largest index present becomes the (exclusive) bound, so that one
        # word is also treated as out of vocabulary.
        num_words = max((max(x) for x in seqs if x), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in seqs]
    return [[w for w in x if skip_top <= w < num_words] for x in seqs]


def _object_array(seqs: Sequence[list[int]]) -> np.ndarray:
    """A 1-D object array of lists (also when every sequence has the same length)."""
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = s
    return out


def _check_int_arg(name: str, value: Any, allow_none: bool = True, minimum: int = 0) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        expected = f"an integer >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")


def _check_sequence_args(
    num_words: Any, skip_top: Any, maxlen: Any, start_char: Any, oov_char: Any, index_from: Any
) -> None:
    _check_int_arg("num_words", num_words)
    _check_int_arg("skip_top", skip_top, allow_none=False)
    _check_int_arg("maxlen", maxlen)
    _check_int_arg("start_char", start_char)
    _check_int_arg("oov_char", oov_char)
    _check_int_arg("index_from", index_from, allow_none=False)


# -- public API -------------------------------------------------------------------------------


def load_data(
    path: str = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the [IMDB dataset](https://ai.stanford.edu/~amaas/data/sentiment/).

    25,000 training and 25,000 test movie reviews from IMDB, labelled by sentiment
    (positive/negative). Each review is a list of word indices; words are indexed by overall
    frequency, so index `3` is the 3rd most frequent word. Index `0` is the padding token.
    The processing reproduces Keras step by step: a seeded shuffle of the train and then the
    test split (one `np.random.RandomState(seed)`), `start_char` and the `index_from` shift,
    the `maxlen` filter, then the `skip_top`/`num_words` vocabulary cut.

    Args:
        path: file name of the dataset (relative to the data and cache directories).
        num_words: only the `num_words` most frequent words are kept; less frequent words
            become `oov_char`. `None` keeps all words (as in Keras, the single largest index
            then also becomes `oov_char`).
        skip_top: the `skip_top` most frequent word indices (after the `index_from` shift,
            so it also counts the reserved indices) become `oov_char`.
        maxlen: if given, only sequences *shorter* than `maxlen` (after `start_char` is
            added) are kept, as in Keras.
        seed: seed for the reproducible shuffle.
        start_char: index marking the start of each sequence; `None` for no marker.
        oov_char: index replacing the words cut by `num_words` or `skip_top`; `None` drops
            those words instead.
        index_from: offset added to every word index.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`, `x_test`: 1-D `object` arrays of lists of `int` word indices.
        - `y_train`, `y_test`: integer arrays of labels (1 positive, 0 negative).

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.imdb.load_data(num_words=10000)
    assert len(x_train) == 25000 and max(max(s) for s in x_train) < 10000
    ```
    """
    _check_sequence_args(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    fpath = get_file(path, origin=ORIGIN_FOLDER + "imdb.npz", file_hash=ACCEPTED_HASHES)
    arrays = load_npz(fpath)
    x_train, labels_train = arrays["x_train"], arrays["y_train"]
    x_test, labels_test = arrays["x_test"], arrays["y_test"]

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = x_train[indices]
    labels_train = labels_train[indices]

    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = x_test[indices]
    labels_test = labels_test[indices]

    xs_train = _shift(x_train, start_char, index_from)
    xs_test = _shift(x_test, start_char, index_from)

    if maxlen:
        xs_train, labels_train = _remove_long_seq(maxlen, xs_train, labels_train)
        xs_test, labels_test = _remove_long_seq(maxlen, xs_test, labels_test)
        if not xs_train or not xs_test:
            raise ValueError(
                f"After keeping only the sequences shorter than maxlen={maxlen}, no sequence "
                "was left in the train or test split. Increase `maxlen`."
            )

    xs = _limit_vocabulary(xs_train + xs_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])

    idx = len(xs_train)
    x_train_out, y_train = _object_array(xs[:idx]), labels[:idx]
    x_test_out, y_test = _object_array(xs[idx:]), labels[idx:]
    return (x_train_out, y_train), (x_test_out, y_test)


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """Retrieves the dict mapping words to their index in the IMDB dataset.

    The indices are the raw ones: add `index_from` (3 by default) to match the sequences
    returned by `load_data`.

    Args:
        path: file name of the word index (relative to the data and cache directories).

    Returns:
        The word index dictionary: keys are words, values their index.

    Example:

    ```python
    word_index = gpunet.datasets.imdb.get_word_index()
    inverted = {i + 3: w for w, i in word_index.items()}
    inverted[1], inverted[2] = "[START]", "[OOV]"
    (x_train, _), _ = gpunet.datasets.imdb.load_data()
    print(" ".join(inverted.get(i, "?") for i in x_train[0]))
    ```
    """
    fpath = get_file(
        path,
        origin=ORIGIN_FOLDER + "imdb_word_index.json",
        file_hash=WORD_INDEX_MD5,
        hash_algorithm="md5",
    )
    with open(fpath, encoding="utf-8") as f:
        return json.load(f)
