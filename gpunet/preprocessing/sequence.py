"""Sequence preprocessing: `pad_sequences`, `skipgrams`, `make_sampling_table` (Keras 2)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["make_sampling_table", "pad_sequences", "skipgrams"]

_SIDES = ("pre", "post")


def pad_sequences(
    sequences: Iterable[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pads (and truncates) sequences to a common length.

    Args:
        sequences: a list of sequences (lists or arrays). Items may themselves be vectors:
            a sequence of shape `(t, ...)` keeps its trailing shape, which must be the same
            for every non-empty sequence.
        maxlen: output length; default: the longest sequence.
        dtype: dtype of the result (`object` or a string dtype for string sequences).
        padding: `"pre"` (pad at the start, default) or `"post"`.
        truncating: `"pre"` (drop values at the start, default) or `"post"`.
        value: padding value.

    Returns:
        An array of shape `(len(sequences), maxlen) + trailing_shape`.

    Example:

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
    >>> pad_sequences([[1, 2, 3], [4]], padding="post").tolist()
    [[1, 2, 3], [4, 0, 0]]
    """
    if padding not in _SIDES:
        raise ValueError(f"`padding` must be 'pre' or 'post'; received {padding!r}.")
    if truncating not in _SIDES:
        raise ValueError(f"`truncating` must be 'pre' or 'post'; received {truncating!r}.")
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise ValueError(
            f"`sequences` must be a list of sequences; received {type(sequences).__name__}."
        )
    if not hasattr(sequences, "__len__"):
        sequences = list(sequences)
    lengths = []
    sample_shape: tuple[int, ...] = ()
    shape_found = False
    for idx, s in enumerate(sequences):
        try:
            length = len(s)
        except TypeError as err:
            raise ValueError(
                "`sequences` must be a list of iterables; the entry at index "
                f"{idx} is a non-iterable {type(s).__name__}: {s!r}."
            ) from err
        lengths.append(length)
        if not shape_found and length:
            sample_shape = np.asarray(s).shape[1:]
            shape_found = True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"`maxlen` must be None or a non-negative integer; received {maxlen!r}.")
    np_dtype = np.dtype(dtype)
    is_str_dtype = np.issubdtype(np_dtype, np.str_) or np.issubdtype(np_dtype, np.bytes_)
    if isinstance(value, str) and np_dtype != np.dtype(object) and not is_str_dtype:
        raise ValueError(
            f"`dtype` {np_dtype} is not compatible with the string padding `value` {value!r}; "
            "use `dtype=object` for variable-length strings."
        )
    x = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=np_dtype)
    if maxlen == 0:
        return x
    for idx, s in enumerate(sequences):
        if not lengths[idx]:
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=np_dtype)
        if trunc.shape[1:] != tuple(sample_shape):
            raise ValueError(
                f"Shape of sample {trunc.shape[1:]} of the sequence at index {idx} differs from "
                f"the expected shape {tuple(sample_shape)} (taken from the first non-empty "
                "sequence)."
            )
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, maxlen - len(trunc):] = trunc
    return x


def make_sampling_table(size: int, sampling_factor: float = 1e-5) -> np.ndarray:
    """Word-rank based sampling probabilities for `skipgrams` (word2vec's formula).

    Assumes a Zipf distribution of word frequencies, with index 0 the rank-1 word.

    Args:
        size: vocabulary size.
        sampling_factor: word2vec's `t` parameter.

    Returns:
        `p[i]`, the probability to keep the word of rank `i` as a pivot.
    """
    gamma = 0.577
    rank = np.arange(size, dtype=np.float64)
    if size:
        rank[0] = 1
    inv_fq = rank * (np.log(rank) + gamma) + 0.5 - 1.0 / (12.0 * rank)
    f = sampling_factor * inv_fq
    return np.minimum(1.0, f / np.sqrt(f))


def skipgrams(
    sequence: Sequence[int],
    vocabulary_size: int,
    window_size: int = 4,
    negative_samples: float = 1.0,
    shuffle: bool = True,
    categorical: bool = False,
    sampling_table: np.ndarray | None = None,
    seed: int | None = None,
) -> tuple[list[list[int]], list[Any]]:
    """Generates skip-gram word pairs with labels (1 in-window, 0 random negative).

    Args:
        sequence: word indices (0 is skipped).
        vocabulary_size: negative words are drawn from `1 .. vocabulary_size - 1`.
        window_size: half-width of the context window.
        negative_samples: number of negative pairs per positive pair.
        shuffle: shuffle couples and labels together.
        categorical: labels as `[0, 1]` / `[1, 0]` instead of `1` / `0`.
        sampling_table: optional keep-probability per word index (see `make_sampling_table`).
        seed: seed for every random choice (Python's `random.Random`).

    Returns:
        `(couples, labels)`.
    """
    rng = random.Random(seed) if seed is not None else random
    couples: list[list[int]] = []
    labels: list[Any] = []
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        if sampling_table is not None and sampling_table[wi] < rng.random():
            continue
        for j in range(max(0, i - window_size), min(len(sequence), i + window_size + 1)):
            if j != i and sequence[j]:
                couples.append([wi, sequence[j]])
                labels.append([0, 1] if categorical else 1)
    if negative_samples > 0 and couples:
        num_negative = int(len(labels) * negative_samples)
        words = [c[0] for c in couples]
        rng.shuffle(words)
        couples += [[words[i % len(words)], rng.randint(1, vocabulary_size - 1)]
                    for i in range(num_negative)]
        labels += [[1, 0] if categorical else 0 for _ in range(num_negative)]
    if shuffle:
        order = list(range(len(couples)))
        rng.shuffle(order)
        couples = [couples[k] for k in order]
        labels = [labels[k] for k in order]
    return couples, labels
