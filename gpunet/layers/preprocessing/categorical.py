"""``CategoryEncoding`` and ``Discretization``: integer / float features → categories.

Both run on the backend (``xp.bincount``, ``xp.searchsorted``); ``Discretization.adapt``
runs on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.layers.preprocessing._base import (
    PreprocessingLayer,
    check_choice,
    check_positive_int,
    encode_categorical,
    host,
    raw,
)
from gpunet.registry import register

ENCODINGS = ("one_hot", "multi_hot", "count")


def _encoded_shape(input_shape: tuple, output_mode: str, depth: int) -> tuple:
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if output_mode == "one_hot":
        return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
    return shape[:-1] + (depth,)


@register("layer")
class CategoryEncoding(PreprocessingLayer):
    """Encodes integer features in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    Args:
        num_tokens: number of categories; every input must lie in ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (default: 1 for every token present in a sample, the
            last axis holding a sample's tokens), ``"one_hot"`` (each element encoded; a
            trailing axis of size 1 is replaced) or ``"count"`` (occurrences per token).

    Input shape:
        ``(batch,)`` or ``(batch, k)`` integers.

    Output shape:
        one_hot: ``(batch, num_tokens)`` or ``(batch, k, num_tokens)``; multi_hot/count:
        ``(batch, num_tokens)`` (a rank-1 input is one sample: ``(num_tokens,)``).

    Example:

    >>> CategoryEncoding(4, output_mode="one_hot")(np.array([3, 0])).numpy()
    array([[0., 0., 0., 1.],
           [1., 0., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot",
                 sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        self.output_mode = check_choice("CategoryEncoding", "output_mode", output_mode,
                                        ENCODINGS)
        self.num_tokens = check_positive_int("CategoryEncoding", "num_tokens", num_tokens,
                                             allow_none=True)
        if sparse:
            raise ValueError("CategoryEncoding: `sparse=True` is not supported by gpunet.")
        self.sparse = False

    def call(self, inputs, training=None):
        if self.num_tokens is None:
            raise ValueError(f"Layer '{self.name}' (CategoryEncoding) needs `num_tokens`; "
                             "received num_tokens=None.")
        x = raw(inputs)
        xp = inputs.backend.xp
        if x.dtype.kind == "f":
            if bool(xp.any(x != xp.floor(x))):
                raise ValueError(f"Layer '{self.name}' (CategoryEncoding) expects integer "
                                 f"inputs; received non-integral values of dtype {x.dtype}.")
        lo, hi = (int(v) for v in host(xp.stack([x.min(), x.max()]))) if x.size else (0, 0)
        if lo < 0 or hi >= self.num_tokens:
            raise ValueError(f"Layer '{self.name}' (CategoryEncoding) expects input values in "
                             f"[0, {self.num_tokens}) (num_tokens={self.num_tokens}); received "
                             f"values from {lo} to {hi}.")
        return Tensor(encode_categorical(xp, x.astype(np.int64), self.output_mode,
                                         self.num_tokens, self.dtype))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode, "sparse": self.sparse}


# -- Discretization: Keras's quantile summaries -------------------------------------------------
def summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """Sorted values taken every ``len / (1 / epsilon)`` elements, with their weights."""
    values = np.sort(np.reshape(values, -1))
    increment = values.size * epsilon
    step = max(increment, 1)
    picked = values[int(increment)::int(step)]
    return np.stack([picked, np.full(picked.shape, float(step))])


def compress_summary(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """Re-bins a summary at the ``epsilon`` quantile grid by interpolating cumulative weights."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    cum_pct = cum / cum[-1]
    bins = np.interp(percents, cum_pct, summary[0])
    cum_w = np.interp(percents, cum_pct, cum)
    weights = cum_w - np.concatenate(([0.0], cum_w[:-1]))
    return np.stack((bins, weights)).astype("float32")


def merge_summaries(a: np.ndarray, b: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((a, b), axis=1)
    merged = merged[:, np.argsort(merged[0], kind="stable")]
    return compress_summary(merged, epsilon)


@register("layer")
class Discretization(PreprocessingLayer):
    """Buckets float features by ``bin_boundaries`` (given, or learnt by ``adapt``).

    Bucket ``i`` holds ``bin_boundaries[i-1] <= x < bin_boundaries[i]`` (``np.digitize``), so
    ``len(bin_boundaries) + 1`` buckets. ``adapt(data)`` with ``num_bins`` computes approximate
    quantile boundaries with Keras's summary algorithm (sort, keep every ``len * epsilon``-th
    value, interpolate the cumulative weights at ``1/num_bins, 2/num_bins, ...``); on small
    data they are the exact linear-interpolation quantiles of the sorted values' empirical CDF.

    Args:
        bin_boundaries: sorted list of boundaries.
        num_bins: number of buckets for ``adapt`` (instead of ``bin_boundaries``).
        epsilon: error tolerance of the quantile summary (default 0.01).
        output_mode: ``"int"`` (bucket index, default), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"``.

    Input shape:
        Arbitrary float features.

    Output shape:
        Same as the input for ``"int"``; encoded as in ``CategoryEncoding`` otherwise.

    Example:

    >>> Discretization(bin_boundaries=[0.0, 1.0])(np.array([[-0.5, 0.0, 0.5, 2.0]])).numpy()
    array([[0, 1, 1, 2]])
    """

    def __init__(self, bin_boundaries: list | None = None, num_bins: int | None = None,
                 epsilon: float = 0.01, output_mode: str = "int", sparse: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_mode = check_choice("Discretization", "output_mode", output_mode,
                                        ("int",) + ENCODINGS)
        if num_bins is not None:
            check_positive_int("Discretization", "num_bins", num_bins)
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Discretization: set either `num_bins` or `bin_boundaries`, not "
                             f"both. Received: num_bins={num_bins} and "
                             f"bin_boundaries={bin_boundaries}")
        if sparse:
            raise ValueError("Discretization: `sparse=True` is not supported by gpunet.")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in
                                                                   bin_boundaries]
        if self.bin_boundaries is not None and any(
                b > a for a, b in zip(self.bin_boundaries[1:], self.bin_boundaries)):
            raise ValueError(f"Discretization: `bin_boundaries` must be sorted. Received: "
                             f"{self.bin_boundaries}")
        self.num_bins, self.epsilon, self.sparse = num_bins, float(epsilon), False

    def adapt(self, data: Any) -> None:
        """Learns ``num_bins - 1`` quantile boundaries from ``data`` (array or batches)."""
        if self.num_bins is None:
            raise ValueError(f"Layer '{self.name}': cannot adapt a Discretization layer "
                             "created with `bin_boundaries`; create it with `num_bins`.")
        from gpunet.layers.preprocessing.normalization import _batches

        summary = np.zeros((2, 0), "float32")
        for batch in _batches(data):
            part = summarize(np.asarray(batch, "float32"), self.epsilon)
            summary = merge_summaries(summary, part, self.epsilon)
        self.bin_boundaries = compress_summary(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs, training=None):
        if self.bin_boundaries is None:
            raise ValueError(f"Layer '{self.name}' (Discretization) has no bin boundaries: "
                             "pass `bin_boundaries`, or `num_bins` and call `adapt(data)` "
                             "first.")
        xp = inputs.backend.xp
        bounds = xp.asarray(self.bin_boundaries, dtype=np.float64)
        idx = xp.searchsorted(bounds, raw(inputs).astype(np.float64), side="right")
        if self.output_mode == "int":
            return Tensor(idx.astype(np.int64))
        return Tensor(encode_categorical(xp, idx, self.output_mode,
                                         len(self.bin_boundaries) + 1, self.dtype))

    def compute_output_shape(self, input_shape):
        depth = None if self.bin_boundaries is None else len(self.bin_boundaries) + 1
        return _encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config: dict) -> Discretization:
        config = dict(config)
        bounds = config.pop("bin_boundaries", None)
        if bounds is not None and config.get("num_bins") is not None:
            layer = cls(**config)  # adapted: both are set
            layer.bin_boundaries = [float(b) for b in bounds]
            return layer
        return super().from_config({**config, "bin_boundaries": bounds})
