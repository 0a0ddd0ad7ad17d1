"""``TextVectorization``: strings → token indices or bag-of-words vectors.

Standardising, splitting and the vocabulary lookup run on the host (Python strings, as Keras
runs this layer in ``tf.data``); the int matrix or the encoding is then built on the backend.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import get_backend
from gpunet.layers.preprocessing._base import (
    PreprocessingLayer,
    check_choice,
    check_positive_int,
    host,
)
from gpunet.layers.preprocessing.index_lookup import StringLookup
from gpunet.registry import register

# Keras's DEFAULT_STRIP_REGEX: ASCII punctuation including the apostrophe (",-." is a range).
STRIP_REGEX = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = (None, "whitespace", "character")


def _as_str(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if not isinstance(v, str):
        raise TypeError(f"TextVectorization expects strings; received {type(v).__name__} "
                        f"{v!r}.")
    return v


@register("layer")
class TextVectorization(PreprocessingLayer):
    """Maps raw strings to sequences of token indices or to token-count vectors.

    Each string goes through: standardize → split → n-grams → vocabulary lookup.

    Vocabulary (``adapt``): every token of the data is counted; the vocabulary is the tokens
    sorted by **count, descending, ties broken by the token in descending order** (Keras's
    ``np.lexsort((tokens, counts))[::-1]``; strings compare by their UTF-8 bytes), cut to
    ``max_tokens`` entries including the reserved ones. In ``"int"`` mode index 0 is the
    padding/mask token ``""`` and index 1 the OOV token ``"[UNK]"``; in the other modes index
    0 is ``"[UNK]"``.

    Args:
        max_tokens: maximum vocabulary size, reserved tokens included.
        standardize: ``"lower_and_strip_punctuation"`` (default: ASCII lower-casing, as
            ``tf.strings.lower``, then removal of ASCII punctuation and the apostrophe),
            ``"lower"``, ``"strip_punctuation"``, ``None`` or a callable. As in Keras, the
            callable gets the whole batch (a NumPy array of ``str`` in the shape passed to the
            layer, the NumPy form of the ``tf.string`` tensor a Keras callable gets) and
            returns strings of the same shape; a callable ``str -> str`` that fails on the
            array is applied string by string instead.
        split: ``"whitespace"`` (default), ``"character"``, ``None`` (the whole string is one
            token) or a callable ``str -> list[str]``.
        ngrams: ``None``, an int ``n`` (all 1- to n-grams) or a tuple of sizes; n-grams join
            tokens with a space and come after the unigrams.
        output_mode: ``"int"`` (default), ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        output_sequence_length: ``"int"`` mode: pad with 0 / truncate every sequence to this
            length (default: pad to the longest in the batch; set it when the batches go to
            ``fit``, which needs the same width in every batch).
        pad_to_max_tokens: other modes: make the output width ``max_tokens``.
        vocabulary: list of strings (or a text file) instead of ``adapt``.
        idf_weights: with ``vocabulary`` in ``"tf_idf"`` mode.

    Input shape:
        A list or NumPy array of Python strings, ``(batch,)`` or ``(batch, 1)``.

    Output shape:
        ``"int"``: ``(batch, sequence_length)`` int64; otherwise ``(batch, vocabulary_size)``
        float.

    Example:

    >>> layer = TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["the cat sat", "the dog"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> layer(["The dog sat!"]).numpy()
    array([[2, 4, 3, 0]])
    """

    _host_inputs = True

    def __init__(self, max_tokens: int | None = None,
                 standardize: Any = "lower_and_strip_punctuation", split: Any = "whitespace",
                 ngrams: int | tuple | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, sparse: bool = False,
                 ragged: bool = False, encoding: str = "utf-8", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":  # the Keras 2 spelling, accepted by Keras 3
            output_mode = "tf_idf"
        self.output_mode = check_choice("TextVectorization", "output_mode", output_mode,
                                        ("int", "multi_hot", "count", "tf_idf"))
        if not callable(standardize):
            check_choice("TextVectorization", "standardize", standardize, _STANDARDIZE)
        if not callable(split):
            check_choice("TextVectorization", "split", split, _SPLIT)
        self.standardize, self.split = standardize, split
        if isinstance(ngrams, int) and not isinstance(ngrams, bool):
            check_positive_int("TextVectorization", "ngrams", ngrams)
            self._ngram_sizes = tuple(range(1, ngrams + 1))
        elif ngrams is None or isinstance(ngrams, (tuple, list)):
            self._ngram_sizes = None if ngrams is None else tuple(int(n) for n in ngrams)
        else:
            raise ValueError(f"TextVectorization: `ngrams` must be None, an integer or a tuple "
                             f"of integers. Received: ngrams={ngrams!r}")
        self.ngrams = list(ngrams) if isinstance(ngrams, (tuple, list)) else ngrams
        if output_sequence_length is not None and self.output_mode != "int":
            raise ValueError("TextVectorization: `output_sequence_length` is only used with "
                             f"output_mode='int'. Received: output_mode={self.output_mode!r}")
        self.output_sequence_length = check_positive_int(
            "TextVectorization", "output_sequence_length", output_sequence_length, True)
        if ragged or sparse:
            raise ValueError("TextVectorization: `ragged=True` and `sparse=True` are not "
                             "supported by gpunet.")
        self.max_tokens, self.pad_to_max_tokens, self.encoding = (max_tokens,
                                                                  bool(pad_to_max_tokens),
                                                                  encoding)
        self._lookup = StringLookup(
            max_tokens=max_tokens, num_oov_indices=1,
            mask_token="" if self.output_mode == "int" else None, oov_token="[UNK]",
            vocabulary=vocabulary, idf_weights=idf_weights, output_mode=self.output_mode,
            pad_to_max_tokens=pad_to_max_tokens, name=f"{self.name}_lookup")

    # -- text processing ----------------------------------------------------------------------
    def _standardize(self, text: str) -> str:
        s = self.standardize
        if callable(s):
            return s(text)
        if s in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_ASCII_LOWER)
        if s in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = STRIP_REGEX.sub("", text)
        return text

    def _split(self, text: str) -> list:
        if callable(self.split):
            return list(self.split(text))
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return [text]

    def _ngrams(self, tokens: list) -> list:
        if not self._ngram_sizes:
            return tokens
        out = []
        for n in self._ngram_sizes:
            out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return out

    def tokenize(self, texts: Any) -> list:
        """The token lists of a batch of strings (standardized, split, n-grams)."""
        arr = texts if isinstance(texts, np.ndarray) else np.asarray(texts, dtype=object)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        shape = arr.shape
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"Layer '{self.name}' (TextVectorization) expects a batch of "
                             f"strings of shape (batch,) or (batch, 1); received shape "
                             f"{arr.shape}.")
        texts = [_as_str(t) for t in arr.tolist()]
        if callable(self.standardize):
            texts = self._standardize_batch(texts, shape)
        else:
            texts = [self._standardize(t) for t in texts]
        return [self._ngrams(self._split(t)) for t in texts]

    def _standardize_batch(self, texts: list, shape: tuple) -> list:
        """A callable ``standardize`` on the whole batch (Keras's contract), else per string."""
        batch = np.empty(len(texts), dtype=object)
        batch[:] = texts
        try:
            out = self.standardize(batch.reshape(shape))
        except (AttributeError, TypeError):  # a str -> str function given the array
            out = None
        if out is not None and not isinstance(out, str):
            out_arr = np.asarray(out, dtype=object)
            if out_arr.size == len(texts) and out_arr.ndim >= 1:
                return [_as_str(t) for t in out_arr.reshape(-1).tolist()]
        outs = [self.standardize(t) for t in texts]
        bad = next((o for o in outs if not isinstance(o, (str, bytes, np.str_))), None)
        if bad is not None:
            raise TypeError(f"Layer '{self.name}' (TextVectorization): `standardize` must "
                            "return strings of the shape of its input (a batch array, or a "
                            f"str for a str). Received {type(bad).__name__}: {bad!r:.80}")
        return [_as_str(o) for o in outs]

    # -- vocabulary ---------------------------------------------------------------------------
    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Builds the vocabulary from strings: a list / array, or a Sequence or iterable of
        batches ``x`` or ``(x, y)`` (e.g. ``text_dataset_from_directory``)."""
        if isinstance(data, (list, np.ndarray, str)):
            batches = [data]
        elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
            batches = (data[i] for i in range(len(data)))
        else:
            batches = data
        docs = []
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            docs += self.tokenize(batch)
        self._lookup.adapt_documents(docs)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, index order."""
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    # -- call ---------------------------------------------------------------------------------
    def call(self, inputs, training=None):
        docs = self.tokenize(host(inputs))
        b = get_backend()
        lookup = self._lookup
        width = max((len(d) for d in docs), default=0)
        if self.output_mode == "int":
            width = self.output_sequence_length or width
        mat = np.full((len(docs), width), 0 if self.output_mode == "int" else -1, np.int64)
        for i, d in enumerate(docs):
            d = d[:width]
            if d:
                mat[i, :len(d)] = lookup.lookup_indices(np.array(d, dtype=object))
        if self.output_mode == "int":
            return Tensor(b.asarray(mat))
        return lookup._encode(b, mat)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self._lookup._depth())

    def get_config(self):
        lk = self._lookup.get_config()
        std = self.standardize if not callable(self.standardize) else self.standardize.__name__
        split = self.split if not callable(self.split) else self.split.__name__
        return {**super().get_config(), "max_tokens": self.max_tokens, "standardize": std,
                "split": split, "ngrams": self.ngrams, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary": lk["vocabulary"],
                "idf_weights": lk["idf_weights"], "sparse": False, "ragged": False,
                "encoding": self.encoding}
