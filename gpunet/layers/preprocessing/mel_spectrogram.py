"""``MelSpectrogram``: raw audio to (log-)mel spectrograms as Keras 3 computes them: the
centred STFT of ``gpunet.ops.stft``, its magnitude to a power, Keras's (HTK) mel filterbank
(``linear_to_mel_weight_matrix``) and, optionally, decibels clipped at ``top_db`` below the
largest value of the batch. Runs on the backend of the input and is differentiable.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, get_backend
from gpunet.layers.preprocessing._base import PreprocessingLayer
from gpunet.ops.signal import stft
from gpunet.registry import register

_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _linspace(start: Any, stop: Any, num: int, dt: np.dtype) -> np.ndarray:
    """``linspace`` computed in ``dt`` as JAX does: ``start (1 - s) + stop s``, ``s = i / (num -
    1)``, the last point ``stop`` itself."""
    start, stop = dt.type(start), dt.type(stop)
    if num <= 1:
        return np.full(num, start, dt)
    step = np.arange(num - 1, dtype=dt) / dt.type(num - 1)
    return np.concatenate([start * (dt.type(1) - step) + stop * step, [stop]]).astype(dt)


def mel_weight_matrix(num_mel_bins: int, num_spectrogram_bins: int, sampling_rate: float,
                      lower_edge_hertz: float, upper_edge_hertz: float,
                      dtype: Any = "float32") -> np.ndarray:
    """Keras's ``linear_to_mel_weight_matrix`` on the host, each step in ``dtype``:
    triangular filters (peak 1) evenly spaced on the HTK mel scale
    ``1127 ln(1 + f / 700)`` between the edges, the DC bin left out.

    Returns:
        A NumPy array ``(num_spectrogram_bins, num_mel_bins)``.
    """
    dt = np.dtype(dtype)

    def to_mel(hz: np.ndarray) -> np.ndarray:
        return dt.type(_MEL_HIGH_FREQUENCY_Q) * np.log(
            dt.type(1.0) + hz / dt.type(_MEL_BREAK_FREQUENCY_HERTZ))

    nyquist = dt.type(sampling_rate) / dt.type(2.0)
    linear = _linspace(0.0, nyquist, num_spectrogram_bins, dt)[1:]
    spec_mel = to_mel(linear)[:, None]
    edges = _linspace(to_mel(np.asarray(lower_edge_hertz, dt)),
                      to_mel(np.asarray(upper_edge_hertz, dt)), num_mel_bins + 2, dt)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    lower_slopes = (spec_mel - lower) / (center - lower)
    upper_slopes = (upper - spec_mel) / (upper - center)
    weights = np.maximum(dt.type(0), np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [(1, 0), (0, 0)]).astype(dt)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"MelSpectrogram: `{name}` must be a positive integer. Received: "
                         f"{name}={value!r}")
    return int(value)


@register("layer")
class MelSpectrogram(PreprocessingLayer):
    """Converts raw audio signals to mel spectrograms (Keras 3's ``MelSpectrogram``).

    The centred short-time Fourier transform (reflect padding of ``fft_length // 2``), its
    magnitude raised to ``mag_exp``, mapped onto ``num_mel_bins`` mel bands between
    ``min_freq`` and ``max_freq`` and, with ``power_to_db``, turned into decibels:
    ``10 log10(max(S, min_power)) - 10 log10(max(|ref_power|, min_power))``, clipped at
    ``top_db`` below the largest value of the whole batch (as Keras does).

    Args:
        fft_length: DFT size (default 2048).
        sequence_stride: hop between frames in samples (default 512).
        sequence_length: window length in samples, at most ``fft_length`` (default
            ``fft_length``).
        window: ``"hann"`` (default), ``"hamming"``, an array of ``sequence_length`` values,
            or None.
        sampling_rate: samples per second of the input (default 16000).
        num_mel_bins: mel bands (default 128).
        min_freq: lowest band edge in Hz (default 20).
        max_freq: highest band edge in Hz (default ``int(sampling_rate / 2)``).
        power_to_db: convert to decibels (default True).
        top_db: dynamic range kept below the maximum, in dB (default 80).
        mag_exp: exponent of the magnitude (2 gives the power spectrogram, the default).
        min_power: floor of the power before the logarithm (default 1e-10).
        ref_power: reference power of 0 dB (default 1).

    Input shape:
        1-D ``(samples,)`` (one signal) or 2-D ``(batch, samples)``.

    Output shape:
        ``(num_mel_bins, frames)`` or ``(batch, num_mel_bins, frames)`` with
        ``frames = samples // sequence_stride + 1`` for an even ``fft_length``
        (``(samples - 1) // sequence_stride + 1`` for an odd one).

    Example:

    >>> layer = MelSpectrogram(num_mel_bins=80, sampling_rate=8000, sequence_stride=128,
    ...                        fft_length=2048)
    >>> layer(np.random.rand(2, 16000).astype("float32")).shape
    (2, 80, 126)
    """

    def __init__(self, fft_length: int = 2048, sequence_stride: int = 512,
                 sequence_length: int | None = None, window: Any = "hann",
                 sampling_rate: float = 16000, num_mel_bins: int = 128, min_freq: float = 20.0,
                 max_freq: float | None = None, power_to_db: bool = True, top_db: float = 80.0,
                 mag_exp: float = 2.0, min_power: float = 1e-10, ref_power: float = 1.0,
                 **kwargs: Any) -> None:
        self.fft_length = _positive_int("fft_length", fft_length)
        self.sequence_stride = _positive_int("sequence_stride", sequence_stride)
        self.sequence_length = _positive_int("sequence_length", sequence_length or fft_length)
        if self.fft_length < self.sequence_length:
            raise ValueError("`fft_length` must be greater than or equal to  "
                             f" `sequence_length`. Received: `sequence_length`="
                             f"{self.sequence_length}, `fft_length`={self.fft_length}.")
        if isinstance(window, str):
            if window not in ("hann", "hamming"):
                raise ValueError("If a string is passed to `window`, it must be one of "
                                 f'`"hann"`, `"hamming"`. Received: window={window}')
        elif window is not None:
            win = np.asarray(window)
            if win.ndim != 1 or win.shape[0] != self.sequence_length:
                raise ValueError("The shape of `window` must be equal to [sequence_length]."
                                 f"Received: window shape={win.shape}")
            window = win.tolist() if isinstance(window, np.ndarray) else window
        self.window = window
        if not isinstance(sampling_rate, numbers.Real) or sampling_rate <= 0:
            raise ValueError("MelSpectrogram: `sampling_rate` must be a positive number. "
                             f"Received: sampling_rate={sampling_rate!r}")
        self.sampling_rate = sampling_rate
        self.num_mel_bins = _positive_int("num_mel_bins", num_mel_bins)
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        given = {"min_freq": min_freq, "max_freq": self.max_freq, "top_db": top_db,
                 "mag_exp": mag_exp, "min_power": min_power, "ref_power": ref_power}
        for name, value in given.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"MelSpectrogram: `{name}` must be a number. Received: "
                                 f"{name}={value!r}")
        if not 0 <= min_freq < self.max_freq:  # else the filterbank divides by zero
            raise ValueError("MelSpectrogram: expected 0 <= `min_freq` < `max_freq`. Received: "
                             f"min_freq={min_freq!r}, max_freq={self.max_freq!r}")
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        super().__init__(**kwargs)
        self._matrices: dict = {}

    def linear_to_mel_weight_matrix(self, num_mel_bins: int = 20,
                                    num_spectrogram_bins: int = 129,
                                    sampling_rate: float = 8000,
                                    lower_edge_hertz: float = 125.0,
                                    upper_edge_hertz: float = 3800.0,
                                    dtype: Any = "float32") -> Tensor:
        """The matrix ``(num_spectrogram_bins, num_mel_bins)`` that maps linear-frequency
        bins (``fft_length // 2 + 1`` from 0 to ``sampling_rate / 2``) onto mel bands from
        ``lower_edge_hertz`` to ``upper_edge_hertz`` (HTK convention, ``mel(f) = 2595
        log10(1 + f / 700)``, triangles of peak 1), as Keras computes it.

        Returns:
            A Tensor on the default device; ``ops.matmul(spectrogram, matrix)`` gives the mel
            spectrogram.
        """
        m = mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate,
                              lower_edge_hertz, upper_edge_hertz, dtype)
        return Tensor(get_backend().asarray(m))

    def _matrix(self, bins: int, like: Any) -> Any:
        b = backend_of(like.data)
        key = (bins, id(b), like.dtype)
        m = self._matrices.get(key)
        if m is None:  # Keras's float32 matrix, in the computation's dtype
            host = mel_weight_matrix(self.num_mel_bins, bins, self.sampling_rate,
                                     self.min_freq, self.max_freq, "float32")
            m = self._matrices[key] = b.asarray(host.astype(like.dtype))
        return m

    def call(self, inputs: Any) -> Any:
        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") \
            else "float32"
        x = inputs if inputs.dtype == dtype else ops.cast(inputs, dtype)
        if x.ndim not in (1, 2):
            raise ValueError("MelSpectrogram: expected a 1-D (unbatched) or 2-D (batched) "
                             f"input of shape (..., samples). Received shape {tuple(x.shape)}.")
        re, im = stft(x, self.sequence_length, self.sequence_stride, self.fft_length,
                      window=self.window, center=True)
        spec = ops.power(ops.sqrt(ops.add(ops.square(re), ops.square(im))), self.mag_exp)
        mel = ops.matmul(spec, self._matrix(spec.shape[-1], spec))
        if self.power_to_db:
            mel = self._dbscale(mel)
        out = ops.swapaxes(mel, -1, -2)
        return out if out.dtype == self.compute_dtype else ops.cast(out, self.compute_dtype)

    def _dbscale(self, x: Any) -> Any:
        log_spec = ops.multiply(ops.log10(ops.maximum(x, self.min_power)), 10.0)
        ref = max(abs(float(self.ref_power)), self.min_power)
        log_spec = ops.subtract(log_spec, float(10.0 * np.log10(np.asarray(ref, x.dtype))))
        return ops.maximum(log_spec, ops.subtract(ops.max(log_spec), self.top_db))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        def frames(n: Any) -> Any:  # the centred STFT's frame count
            if n is None:
                return None
            return (n + 2 * (self.fft_length // 2) - self.fft_length) // self.sequence_stride + 1

        if len(input_shape) == 1:
            return (self.num_mel_bins, frames(input_shape[0]))
        return (input_shape[0], self.num_mel_bins, frames(input_shape[1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "fft_length": self.fft_length,
                "sequence_stride": self.sequence_stride,
                "sequence_length": self.sequence_length, "window": self.window,
                "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                "min_freq": self.min_freq, "max_freq": self.max_freq,
                "power_to_db": self.power_to_db, "top_db": self.top_db,
                "mag_exp": self.mag_exp, "min_power": self.min_power,
                "ref_power": self.ref_power}
