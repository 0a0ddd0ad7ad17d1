"""Reuters newswire topic classification dataset."""

from __future__ import annotations

import json

import numpy as np

from gpunet.datasets.imdb import (
    _check_sequence_args,
    _limit_vocabulary,
    _object_array,
    _remove_long_seq,
    _shift,
)
from gpunet.utils.data_utils import get_file, load_npz

__all__ = ["load_data", "get_word_index", "get_label_names"]

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ACCEPTED_HASHES: tuple[str, ...] = (
    "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
)
# Keras checks the word index with md5.
WORD_INDEX_MD5: tuple[str, ...] = ("4d44cc38712099c9e383dc6e5f11a921",)

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass",
    "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum",
    "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
    "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def load_data(
    path: str = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the Reuters newswire classification dataset.

    11,228 newswires from Reuters, labelled over 46 topics, each encoded as a list of word
    indices (words indexed by overall frequency; `0` is the padding token). The processing
    reproduces Keras: one seeded shuffle of all samples, `start_char` and the `index_from`
    shift, the `maxlen` filter, the `skip_top`/`num_words` vocabulary cut, then the
    train/test split at `int(len * (1 - test_split))`.

    Args:
        path: file name of the dataset (relative to the data and cache directories).
        num_words: only the `num_words` most frequent words are kept; less frequent words
            become `oov_char`. `None` keeps all words (as in Keras, the single largest index
            then also becomes `oov_char`).
        skip_top: the `skip_top` most frequent word indices (after the shift) become
            `oov_char`.
        maxlen: if given, only sequences shorter than `maxlen` are kept.
        test_split: fraction of the samples used as the test set, in `[0, 1]`.
        seed: seed for the reproducible shuffle.
        start_char: index marking the start of each sequence; `None` for no marker.
        oov_char: index replacing the cut words; `None` drops them instead.
        index_from: offset added to every word index.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`, `x_test`: 1-D `object` arrays of lists of `int` word indices.
        - `y_train`, `y_test`: integer arrays of topic labels (0 to 45).

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.reuters.load_data(num_words=10000)
    assert len(x_train) == 8982 and len(x_test) == 2246
    ```
    """
    _check_sequence_args(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    if isinstance(test_split, bool) or not 0 <= test_split <= 1:
        raise ValueError(
            f"`test_split` must be a float in [0, 1]. Received: test_split={test_split!r}"
        )
    fpath = get_file(path, origin=ORIGIN_FOLDER + "reuters.npz", file_hash=ACCEPTED_HASHES)
    arrays = load_npz(fpath)
    xs_raw, labels = arrays["x"], arrays["y"]

    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs_raw))
    rng.shuffle(indices)
    xs_raw = xs_raw[indices]
    labels = labels[indices]

    xs = _shift(xs_raw, start_char, index_from)
    if maxlen:
        xs, labels = _remove_long_seq(maxlen, xs, labels)
    xs = _limit_vocabulary(xs, num_words, skip_top, oov_char)

    idx = int(len(xs) * (1 - test_split))
    labels = np.asarray(labels)
    x_train, y_train = _object_array(xs[:idx]), np.array(labels[:idx])
    x_test, y_test = _object_array(xs[idx:]), np.array(labels[idx:])
    return (x_train, y_train), (x_test, y_test)


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """Retrieves the dict mapping words to their index in the Reuters dataset.

    Indices are raw: add `index_from` (3 by default) to match `load_data`'s sequences, whose
    indices 0, 1 and 2 are reserved for padding, start and out-of-vocabulary.

    Args:
        path: file name of the word index (relative to the data and cache directories).

    Returns:
        The word index dictionary: keys are words, values their index.

    Example:

    ```python
    word_index = gpunet.datasets.reuters.get_word_index()
    assert word_index["the"] == 1
    ```
    """
    fpath = get_file(
        path,
        origin=ORIGIN_FOLDER + "reuters_word_index.json",
        file_hash=WORD_INDEX_MD5,
        hash_algorithm="md5",
    )
    with open(fpath, encoding="utf-8") as f:
        return json.load(f)


def get_label_names() -> tuple[str, ...]:
    """Returns the 46 topic names, indexed like the labels of `load_data`.

    Returns:
        A tuple of strings; `get_label_names()[y]` names the topic of label `y`.

    Example:

    >>> get_label_names()[3]
    'earn'
    """
    return _LABEL_NAMES
