"""``Hashing``: strings or integers → bins, with Keras 3's (TensorFlow's) hash functions.

Values are hashed on the host as Keras does through TensorFlow: numbers are written as
decimal strings first (floats cast to int64 before), then FarmHash ``Fingerprint64`` (no
``salt``) or SipHash-2-4 keyed by ``salt`` takes the string's UTF-8 bytes, and the bin is the
hash modulo the number of bins. So the bins are the ones Keras gives, on any platform.
"""

from __future__ import annotations

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
from gpunet.layers.preprocessing._hashes import fingerprint64, siphash24
from gpunet.registry import register

MODES = ("int", "one_hot", "multi_hot", "count")


def _as_text(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode("ascii")


@register("layer")
class Hashing(PreprocessingLayer):
    """Hashes categorical features (strings or integers) into ``num_bins`` bins.

    Args:
        num_bins: number of bins, the mask bin included when ``mask_value`` is set.
        mask_value: a value sent to bin 0 (the others then go to ``1..num_bins-1``);
            None (default): no mask bin.
        salt: None (default: FarmHash64), an integer or a pair of integers (SipHash64
            keyed by ``[salt, salt]`` or by the pair).
        output_mode: ``"int"`` (default: the bin indices), ``"one_hot"``, ``"multi_hot"``
            or ``"count"`` (vectors of width ``num_bins``).
        sparse: only False (sparse outputs need TensorFlow).

    Input shape:
        Strings, integers or floats of any shape ``(batch, ...)``.

    Output shape:
        ``"int"``: the input's shape (int64); the other modes: the last axis replaced by
        ``num_bins`` (``"one_hot"`` replaces a trailing axis of size 1).

    Returns:
        A Tensor of bin indices, or of encoded vectors.

    Example:

    >>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).numpy()
    array([[1],
           [0],
           [1],
           [1],
           [2]])
    """

    _host_inputs = True

    def __init__(self, num_bins: int, mask_value: Any = None, salt: Any = None,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or int(num_bins) <= 0:
            raise ValueError("The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins}.")
        self.output_mode = check_choice("Hashing", "output_mode", output_mode, MODES)
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError("When `output_mode=\"int\"`, `dtype` should be an integer type, "
                             f"'int32' or 'int64'. Received: dtype={self.dtype}")
        if sparse:
            raise ValueError("Hashing: `sparse=True` is not supported by gpunet (Keras "
                             "needs TensorFlow for it).")
        self.num_bins, self.mask_value, self.sparse = int(num_bins), mask_value, False
        if salt is None:
            self.salt = None
        elif isinstance(salt, (tuple, list)) and len(salt) == 2:
            self.salt = [int(s) for s in salt]
        elif isinstance(salt, int) and not isinstance(salt, bool):
            self.salt = [salt, salt]
        else:
            raise ValueError("The `salt` argument for `Hashing` can only be a tuple of size 2 "
                             f"integers, or a single integer. Received: salt={salt}.")

    def _bins(self, values: np.ndarray) -> np.ndarray:
        bins = self.num_bins
        masked = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            masked = values == self.mask_value
        if values.dtype.kind == "f":
            values = values.astype(np.int64)
        if self.salt is None:
            hashed = [fingerprint64(_as_text(v)) % bins for v in values.reshape(-1)]
        else:
            k0, k1 = self.salt
            hashed = [siphash24(k0, k1, _as_text(v)) % bins for v in values.reshape(-1)]
        out = np.array(hashed, np.int64).reshape(values.shape)
        if masked is not None:
            out = np.where(masked, 0, out + 1)
        return out

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        values = host(inputs)
        if values.dtype.kind == "U":
            values = values.astype(object)
        idx = get_backend().asarray(self._bins(values))
        if self.output_mode == "int":
            return Tensor(idx.astype(self.dtype))
        return Tensor(encode_categorical(get_backend().xp, idx, self.output_mode,
                                         self.num_bins, self.dtype))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        if self.output_mode == "one_hot" and len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
            return shape + (self.num_bins,)
        return (shape[:-1] if shape else ()) + (self.num_bins,)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}
