"""Vocabulary lookups: ``IntegerLookup`` and ``StringLookup`` (and their shared base).

The lookup itself runs on the host (a Python dictionary; Keras runs these layers in
``tf.data``, outside the graph); the indices then go to the backend once, where the
``one_hot`` / ``multi_hot`` / ``count`` / ``tf_idf`` encoding runs.

Vocabulary order after ``adapt``: tokens sorted by **count, descending; ties broken by the
token itself, descending** (Keras's ``np.lexsort((tokens, counts))[::-1]`` in
``IndexLookup.finalize_state``; strings compare by their UTF-8 bytes, i.e. by code point).
Reserved indices come first: the mask token (index 0, ``output_mode="int"`` only), then the
``num_oov_indices`` OOV indices.

Saving: the vocabulary (with its reserved tokens) and the TF-IDF weights are written into the
layer config, so a model saved to HDF5 reloads them (Keras 3 keeps an adapted vocabulary as a
file asset of the ``.keras`` archive instead).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import get_backend
from gpunet.layers.preprocessing._base import (
    PreprocessingLayer,
    check_choice,
    encode_categorical,
    host,
)
from gpunet.layers.preprocessing.categorical import _encoded_shape
from gpunet.registry import register

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def sort_vocabulary(counts: dict) -> list:
    """Tokens by count descending, ties by token descending (Keras's rule)."""
    return sorted(counts, key=lambda t: (counts[t], _key(t)), reverse=True)


def _key(token: Any) -> Any:
    return token.encode("utf-8") if isinstance(token, str) else token


def _token(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.generic):
        return v.item()
    return v


class IndexLookup(PreprocessingLayer):
    """Maps tokens to indices through a vocabulary (base of IntegerLookup / StringLookup)."""

    _host_inputs = True
    _kind = "token"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: Any = None, oov_token: Any = None, vocabulary: Any = None,
                 idf_weights: Any = None, invert: bool = False, output_mode: str = "int",
                 sparse: bool = False, pad_to_max_tokens: bool = False,
                 vocabulary_dtype: str | None = None, **kwargs: Any) -> None:
        cls = type(self).__name__
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        self.output_mode = check_choice(cls, "output_mode", output_mode, OUTPUT_MODES)
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{cls}: if set, `max_tokens` must be greater than 1. "
                             f"Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{cls}: `pad_to_max_tokens=True` needs `max_tokens`. "
                             "Received: max_tokens=None")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int) \
                or num_oov_indices < 0:
            raise ValueError(f"{cls}: `num_oov_indices` must be an integer >= 0. "
                             f"Received: num_oov_indices={num_oov_indices!r}")
        if invert and self.output_mode != "int":
            raise ValueError(f"{cls}: `output_mode` must be 'int' when `invert=True`. "
                             f"Received: output_mode={self.output_mode!r}")
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(f"{cls}: `idf_weights` is only used with output_mode='tf_idf'. "
                             f"Received: output_mode={self.output_mode!r}")
        if sparse:
            raise ValueError(f"{cls}: `sparse=True` is not supported by gpunet.")
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.sparse = bool(invert), False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.vocabulary_dtype = vocabulary_dtype
        self._vocab: list = []
        self._index: dict = {}
        self._idf: np.ndarray | None = None
        self._has_input_vocabulary = vocabulary is not None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif self.output_mode == "tf_idf" and idf_weights is not None:
            raise ValueError(f"{cls}: `idf_weights` needs a `vocabulary`.")

    # -- vocabulary ---------------------------------------------------------------------------
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Size of the vocabulary, reserved mask and OOV indices included."""
        return self._token_start() + len(self._vocab)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary; with the special tokens, a term's position is its index."""
        special = ([self.mask_token] * self._oov_start()
                   + [self.oov_token] * self.num_oov_indices)
        return (special if include_special_tokens else []) + list(self._vocab)

    def _convert_vocab(self, vocabulary: Any) -> list:
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line for line in f.read().splitlines()]
                while vocabulary and vocabulary[-1] == "":
                    vocabulary.pop()
        return [_token(v) for v in host(vocabulary).reshape(-1).tolist()] \
            if not isinstance(vocabulary, list) else [_token(v) for v in vocabulary]

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Sets the vocabulary (a list, array or text file, one token per line).

        Reserved tokens may lead the list (exactly as ``get_vocabulary()`` returns them) or be
        left out. ``idf_weights`` (``output_mode="tf_idf"`` only) has one weight per entry.
        """
        name = f"Layer '{self.name}' ({type(self).__name__})"
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{name}: `idf_weights` must be given with the vocabulary when "
                             "output_mode='tf_idf'.")
        tokens = self._convert_vocab(vocabulary)
        special = self.get_vocabulary()[:self._token_start()]
        found_special = len(tokens) >= len(special) and tokens[:len(special)] == special
        body = tokens[len(special):] if found_special else tokens
        if not body and not tokens:
            raise ValueError(f"{name}: cannot set an empty vocabulary.")
        repeated = sorted({str(t) for t, c in Counter(body).items() if c > 1})
        if repeated:
            raise ValueError(f"{name}: the vocabulary has repeated terms: {repeated}.")
        if self.mask_token is not None and self.mask_token in body:
            raise ValueError(f"{name}: the mask token {self.mask_token!r} may only appear at "
                             f"the start of the vocabulary, in this order: {special}.")
        if self.invert and self.oov_token is not None and self.oov_token in body:
            raise ValueError(f"{name}: the OOV token {self.oov_token!r} may only appear at "
                             f"the start of the vocabulary, in this order: {special}.")
        size = self._token_start() + len(body)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{name}: the vocabulary size is {size} (reserved tokens "
                             f"included), more than max_tokens={self.max_tokens}.")
        self._vocab = body
        self._index = {t: i + self._token_start() for i, t in enumerate(body)}
        if self.output_mode == "tf_idf":
            w = np.asarray(host(idf_weights), dtype="float64").reshape(-1)
            if len(w) != len(tokens):
                raise ValueError(f"{name}: `idf_weights` must have one weight per vocabulary "
                                 f"entry: {len(tokens)}; received {len(w)}.")
            if not found_special:
                w = np.concatenate([np.full(self._token_start(), w.mean() if w.size else 0.0),
                                    w])
            self._idf = w

    def _tokens_of(self, data: Any) -> Iterable:
        """Documents (lists of tokens) of one batch for ``adapt``."""
        arr = host(data) if not isinstance(data, (list, tuple)) else np.asarray(
            data, dtype=object)
        if arr.ndim <= 1:
            arr = arr.reshape(-1, 1)
        return ([_token(v) for v in row.reshape(-1).tolist()] for row in arr)

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Builds the vocabulary from ``data`` (an array / list, or a Sequence or iterable of
        batches ``x`` or ``(x, y)``); the order is described in the module docstring."""
        self.adapt_documents(doc for docs in self._adapt_batches(data, steps) for doc in docs)

    def adapt_documents(self, documents: Iterable) -> None:
        """Builds the vocabulary from already-split documents (lists of tokens)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via the `vocabulary` argument.")
        counts: Counter = Counter()
        doc_counts: Counter = Counter()
        n_docs = 0
        for doc in documents:
            counts.update(doc)
            if self.output_mode == "tf_idf":
                doc_counts.update(set(doc))
                n_docs += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        vocab = sort_vocabulary(counts)
        if self.max_tokens is not None:
            vocab = vocab[:self.max_tokens - self._token_start()]
        self._vocab = vocab
        self._index = {t: i + self._token_start() for i, t in enumerate(vocab)}
        if self.output_mode == "tf_idf":
            df = np.array([doc_counts[t] for t in vocab], dtype="float64")
            idf = np.log(1.0 + n_docs / (1.0 + df))
            pad = idf.mean() if idf.size else 0.0
            self._idf = np.concatenate([np.full(self._token_start(), pad), idf])

    def _adapt_batches(self, data: Any, steps: int | None) -> Iterable:
        if isinstance(data, (np.ndarray, list, tuple, Tensor)) or hasattr(
                data, "__cuda_array_interface__"):
            yield self._tokens_of(data)
            return
        if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
            data = (data[i] for i in range(len(data)))
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            yield self._tokens_of(batch)

    # -- lookup -------------------------------------------------------------------------------
    def _oov_hash(self, token: Any) -> int:
        if isinstance(token, (int, np.integer)):
            return int(token) % self.num_oov_indices
        return zlib.crc32(str(token).encode("utf-8")) % self.num_oov_indices

    def lookup_indices(self, tokens: np.ndarray) -> np.ndarray:
        """Host lookup of an array of tokens → int64 indices (mask → 0 in int mode, -1 else)."""
        flat = [_token(t) for t in tokens.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=np.int64)
        oov_start, get, missing = self._oov_start(), self._index.get, []
        mask_value = 0 if self.output_mode == "int" else -1
        for i, t in enumerate(flat):
            j = get(t)
            if j is None:
                if self.mask_token is not None and t == self.mask_token:
                    j = mask_value
                elif self.num_oov_indices == 1:
                    j = oov_start
                elif self.num_oov_indices == 0:
                    missing.append(t)
                    j = -1
                else:
                    j = oov_start + self._oov_hash(t)
            out[i] = j
        if missing:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): with "
                             f"num_oov_indices=0 every input must be in the vocabulary; "
                             f"received out-of-vocabulary values {missing[:10]}. Consider "
                             "num_oov_indices=1.")
        return out.reshape(tokens.shape)

    def _invert(self, idx: np.ndarray) -> np.ndarray:
        vocab, start = self.get_vocabulary(), self._token_start()
        flat = idx.reshape(-1).astype(np.int64).tolist()
        has_mask = self._oov_start() == 1
        out = [vocab[i] if start <= i < len(vocab) or (i == 0 and has_mask) else self.oov_token
               for i in flat]
        return np.array(out, dtype=object).reshape(idx.shape)

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def call(self, inputs, training=None):
        arr = host(inputs)
        if self.invert:
            return self._invert(arr)
        idx = self.lookup_indices(arr)
        b = inputs.backend if isinstance(inputs, Tensor) else get_backend()
        if self.output_mode == "int":
            return Tensor(b.asarray(idx))
        return self._encode(b, idx)

    def _encode(self, b: Any, idx: np.ndarray) -> Tensor:
        depth = self._depth()
        if not self._vocab and self.output_mode != "int" and not self._has_input_vocabulary \
                and not self.pad_to_max_tokens:
            raise RuntimeError(f"Layer '{self.name}': with output_mode='{self.output_mode}' "
                               "the vocabulary must be set before calling the layer: pass "
                               "`vocabulary` or call `adapt(data)`.")
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        weights = None
        if self.output_mode == "tf_idf":
            w = np.zeros(depth, "float64")
            w[:min(depth, len(self._idf))] = self._idf[:depth]
            weights = b.asarray(w.astype(self.dtype))
        return Tensor(encode_categorical(b.xp, b.asarray(idx), mode, depth, self.dtype,
                                         weights))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self._depth())

    def get_config(self):
        vocab = self.get_vocabulary() if self._vocab else None
        idf = None
        if self.output_mode == "tf_idf" and self._idf is not None and vocab is not None:
            idf = [float(v) for v in self._idf]
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": vocab, "idf_weights": idf,
                "vocabulary_dtype": self.vocabulary_dtype}


@register("layer")
class StringLookup(IndexLookup):
    """Maps strings to integer indices through a vocabulary (or back, with ``invert``).

    Args:
        max_tokens: maximum vocabulary size, reserved tokens included (``None``: no cap).
        num_oov_indices: indices for out-of-vocabulary strings (default 1). With more than
            one, an OOV string goes to ``crc32(utf-8) % num_oov_indices`` (Keras uses
            FarmHash64, so the buckets differ); with 0, an OOV string raises a ValueError.
        mask_token: a string mapped to index 0 in ``"int"`` mode and dropped in the other
            modes (default ``None``: no mask).
        oov_token: the token returned for OOV indices by ``invert`` (default ``"[UNK]"``).
        vocabulary: list / array of strings, or the path of a text file (one per line).
        idf_weights: per-entry IDF weights, with ``vocabulary`` in ``"tf_idf"`` mode.
        invert: map indices back to strings (``output_mode="int"`` only).
        output_mode: ``"int"`` (default), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"`` (``count * log(1 + docs / (1 + doc_freq))``; OOV gets the mean).
        pad_to_max_tokens: make the encoded width ``max_tokens``.

    Input shape:
        Strings of any shape (a list or NumPy array); ``invert``: integer indices.

    Output shape:
        ``"int"``: same shape, int64 indices (a Tensor); ``invert``: a NumPy object array of
        strings; other modes as ``CategoryEncoding``.

    Example:

    >>> layer = StringLookup(vocabulary=["a", "b", "c"])
    >>> layer([["a", "c", "z"]]).numpy()
    array([[1, 3, 0]])
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: str | None = None, oov_token: str = "[UNK]",
                 vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False,
                 sparse: bool = False, encoding: str = "utf-8", **kwargs: Any) -> None:
        kwargs.pop("vocabulary_dtype", None)
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         "string", **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("vocabulary_dtype")
        return {**cfg, "encoding": self.encoding}


@register("layer")
class IntegerLookup(IndexLookup):
    """Maps integers to contiguous indices through a vocabulary (or back, with ``invert``).

    Args:
        max_tokens: maximum vocabulary size, reserved tokens included.
        num_oov_indices: indices for OOV values (default 1; with more, ``value %
            num_oov_indices`` picks one, Keras's "floormod"; with 0, OOV raises).
        mask_token: an integer mapped to index 0 in ``"int"`` mode (default ``None``).
        oov_token: the value returned for OOV indices by ``invert`` (default -1).
        vocabulary: list / array of integers, or a text file.
        idf_weights, invert, output_mode, pad_to_max_tokens: as in ``StringLookup``.
        vocabulary_dtype: ``"int64"`` (default) or ``"int32"``.

    Input shape:
        Integers of any shape.

    Output shape:
        As ``StringLookup`` (``invert``: an object array of the vocabulary integers).

    Example:

    >>> IntegerLookup(vocabulary=[12, 36, 1138])(np.array([[12, 1138, 42]])).numpy()
    array([[1, 3, 0]])
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: int | None = None, oov_token: int = -1, vocabulary: Any = None,
                 vocabulary_dtype: str = "int64", idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, **kwargs: Any) -> None:
        check_choice("IntegerLookup", "vocabulary_dtype", vocabulary_dtype, ("int64", "int32"))
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         vocabulary_dtype, **kwargs)

    def _convert_vocab(self, vocabulary: Any) -> list:
        return [int(v) for v in super()._convert_vocab(vocabulary)]

    def _invert(self, idx: np.ndarray) -> np.ndarray:
        return super()._invert(idx).astype(np.int64)

    def lookup_indices(self, tokens: np.ndarray) -> np.ndarray:
        if tokens.dtype.kind == "f":
            tokens = tokens.astype(np.int64)
        if tokens.dtype.kind not in "iu":
            raise ValueError(f"Layer '{self.name}' (IntegerLookup) expects integer inputs; "
                             f"received an array of dtype {tokens.dtype}.")
        return super().lookup_indices(tokens)
