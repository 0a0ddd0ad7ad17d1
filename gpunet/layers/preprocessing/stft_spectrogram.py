"""``STFTSpectrogram``: the short-time Fourier transform of 1-D signals as a layer, built as
Keras 3 builds it, from a strided 1-D convolution whose kernels are the windowed DFT basis.

The kernels are weights (``real_kernel``, ``imag_kernel``, shape ``(frame_length, 1,
fft_length // 2 + 1)``), trainable unless ``trainable=False``, saved with the model and loaded
from Keras's files. Both run as one convolution (one im2col and one matmul per call), on the
backend of the input; gradients reach the input and the kernels.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from gpunet import config as gconfig
from gpunet import ops
from gpunet.layers.convolutional import normalize_data_format
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer
from gpunet.layers.preprocessing._windows import check_window_name, get_window
from gpunet.registry import register

MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


def stft_kernel(side: str, shape: tuple, window: Any, scaling: str | None, periodic: bool,
                dtype: Any = "float32") -> np.ndarray:
    """The real (cosine) or imaginary (minus sine) DFT kernel of Keras's ``STFT``
    initializer, windowed and scaled: ``(frame_length, 1, bins)`` with
    ``k[t, 0, f] = trig(-2 pi t f / (2 (bins - 1))) * w[t] / scale``.

    Args:
        side: ``"real"`` or ``"imag"``.
        shape: ``(frame_length, input_channels, bins)``.
        window: a window name, an array of ``frame_length`` values, or None (no window).
        scaling: ``"density"`` (divide by the window's L2 norm), ``"spectrum"`` (by its
            L1 norm) or None.
        periodic: the periodic (DFT-even) form of a named window, else the symmetric one.
        dtype: the kernel's dtype.

    Returns:
        The kernel as a NumPy array of ``dtype``.
    """
    frame_length, _, bins = shape
    dt = np.dtype(dtype)  # each step in the kernel's dtype, as Keras computes it
    freq = np.arange(bins, dtype=dt).reshape(1, 1, bins) / dt.type((bins - 1) * 2)
    time = np.arange(frame_length, dtype=dt).reshape(frame_length, 1, 1)
    args = (dt.type(-2) * time) * freq * dt.type(np.pi)
    trig = np.cos if side == "real" else np.sin
    kernel = trig(args.astype(np.float64)).astype(dt)
    if window is not None:
        win = (get_window(window, frame_length, periodic) if isinstance(window, str)
               else np.asarray(window, np.float64))
        if win.ndim != 1 or win.shape[-1] != frame_length:
            raise ValueError("The shape of `window` must be equal to [frame_length]."
                             f"Received: window shape={win.shape}")
        win = win.astype(dt).reshape(frame_length, 1, 1)
        scale = dt.type(1)
        if scaling == "density":
            scale = np.sqrt(np.sum(np.square(win)))
        elif scaling == "spectrum":
            scale = np.sum(np.abs(win))
        kernel = kernel * win / scale
    return kernel.astype(dt)


def _conv_length(length: int | None, frame_length: int, step: int, padding: str) -> Any:
    if length is None:
        return None
    if padding == "same":
        return (length + step - 1) // step
    if length < frame_length:
        raise ValueError(f"STFTSpectrogram: the input has {length} time steps, fewer than "
                         f"`frame_length`={frame_length} (with padding='valid' no frame fits).")
    return (length - frame_length) // step + 1


@register("layer")
class STFTSpectrogram(Layer):
    """Computes the short-time Fourier transform (STFT) of 1-D signals, channel by channel.

    The spectrogram comes from a strided convolution whose kernels are the windowed DFT basis
    (non-trainable with ``trainable=False``, else fine-tuned with the model), as in Keras 3.

    Args:
        mode: the output: ``"log"`` (log magnitude, default), ``"magnitude"``, ``"psd"``
            (power spectral density), ``"real"``, ``"imag"``, ``"angle"`` (phase) or
            ``"stft"`` (real then imaginary bins, concatenated).
        frame_length: samples per frame (window length), default 256.
        frame_step: hop between frames (default ``frame_length // 2``).
        fft_length: DFT size, at least ``frame_length`` (default the smallest power of two
            not below ``frame_length``); gives ``fft_length // 2 + 1`` frequency bins.
        window: a window name (``"hann"``, default, ``"hamming"``, ``"blackman"``, ... as
            ``scipy.signal.get_window`` names them), an array of ``frame_length`` values, or
            None (no window).
        periodic: use the periodic (DFT-even) form of a named window; default False
            (symmetric).
        scaling: ``"density"`` (default; divide by the window's L2 norm), ``"spectrum"``
            (by its L1 norm) or None.
        padding: ``"valid"`` (default) or ``"same"``.
        expand_dims: give the frequency bins their own axis (an image per channel).
        data_format: ``"channels_last"`` (``(batch, time, channels)``, default) or
            ``"channels_first"`` (``(batch, channels, time)``).

    Input shape:
        3-D ``(batch, time, channels)`` (channels_last) or ``(batch, channels, time)``; float
        inputs (float16, float32, float64).

    Output shape:
        With ``F = fft_length // 2 + 1`` bins (``2 F`` for ``mode="stft"``) and ``T'`` frames:
        ``(batch, T', channels * F)`` (channels_last), ``(batch, channels * F, T')``
        (channels_first); with ``expand_dims``: ``(batch, T', F, channels)`` or
        ``(batch, channels, T', F)``.

    Example:

    >>> layer = STFTSpectrogram(mode="log", frame_length=256, frame_step=128, fft_length=512)
    >>> layer(np.random.rand(3, 16000, 1).astype("float32")).shape
    (3, 124, 257)
    """

    def __init__(self, mode: str = "log", frame_length: int = 256, frame_step: int | None = None,
                 fft_length: int | None = None, window: Any = "hann", periodic: bool = False,
                 scaling: str | None = "density", padding: str = "valid",
                 expand_dims: bool = False, data_format: str | None = None,
                 **kwargs: Any) -> None:
        if isinstance(frame_length, bool) or not isinstance(frame_length, numbers.Integral) \
                or frame_length < 1:
            raise ValueError("STFTSpectrogram: `frame_length` must be a positive integer. "
                             f"Received: frame_length={frame_length!r}")
        if frame_step is not None and (
                isinstance(frame_step, bool) or not isinstance(frame_step, numbers.Integral)
                or frame_step > frame_length or frame_step < 1):
            raise ValueError("`frame_step` should be a positive integer not greater than "
                             f"`frame_length`. Received frame_step={frame_step}, "
                             f"frame_length={frame_length}")
        if fft_length is not None and (
                isinstance(fft_length, bool) or not isinstance(fft_length, numbers.Integral)
                or fft_length < frame_length):
            raise ValueError("`fft_length` should be not less than `frame_length`. "
                             f"Received fft_length={fft_length}, frame_length={frame_length}")
        if fft_length is not None and (fft_length & -fft_length) != fft_length:
            warnings.warn("`fft_length` is recommended to be a power of two. "
                          f"Received fft_length={fft_length}", stacklevel=2)
        if mode not in MODES:
            raise ValueError("Output mode is invalid, it must be one of "
                             f"{', '.join(MODES)}. Received: mode={mode}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError("Scaling is invalid, it must be `None`, 'density' "
                             f"or 'spectrum'. Received scaling={scaling}")
        if padding not in ("valid", "same"):
            raise ValueError("Padding is invalid, it should be 'valid', 'same'. "
                             f"Received: padding={padding}")
        if isinstance(window, str):
            check_window_name(window)
        elif window is not None:
            win = np.asarray(window)
            if win.ndim != 1 or win.shape[0] != frame_length or win.dtype.kind not in "iuf":
                raise ValueError("The shape of `window` must be equal to [frame_length]."
                                 f"Received: window shape={win.shape}")
            window = win.tolist() if isinstance(window, np.ndarray) else window
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = int(frame_length)
        self.frame_step = frame_step
        self._frame_step = int(frame_step or self.frame_length // 2) or 1
        self.fft_length = fft_length
        self._fft_length = int(fft_length or 2 ** int(math.ceil(math.log2(frame_length))))
        self.window = window
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape: tuple) -> None:
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)

        def init(side: str) -> Any:
            return lambda shape, dtype=None: stft_kernel(
                side, shape, self.window, self.scaling, self.periodic, dtype or "float32")

        if self.mode != "imag":
            self.real_kernel = self.add_weight(name="real_kernel", shape=shape,
                                               initializer=init("real"))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(name="imag_kernel", shape=shape,
                                               initializer=init("imag"))

    def _frames(self, inputs: Any) -> Any:
        """``(batch * channels, frames, bins)`` of each kernel (real then imaginary)."""
        x = inputs
        if self.data_format == "channels_last":
            x = ops.transpose(x, (0, 2, 1))
        x = ops.reshape(x, (-1, x.shape[-1], 1))
        kernels = [k for k in (getattr(self, "real_kernel", None),
                               getattr(self, "imag_kernel", None)) if k is not None]
        kernels = [k if k.dtype == x.dtype else ops.cast(k, x.dtype) for k in kernels]
        kernel = kernels[0] if len(kernels) == 1 else ops.concatenate(kernels, axis=-1)
        return ops.conv1d(x, kernel, strides=self._frame_step, padding=self.padding)

    def _adjust(self, y: Any, channels: int) -> Any:
        """``(batch * channels, T', F)`` → the output layout of ``data_format``/``expand_dims``."""
        n, f = y.shape[1], y.shape[2]
        y = ops.reshape(y, (-1, channels, n, f))
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(y, (0, 2, 3, 1))
            return ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (-1, n, channels * f))
        if self.expand_dims:
            return y
        return ops.reshape(ops.transpose(y, (0, 1, 3, 2)), (-1, channels * f, n))

    def call(self, inputs: Any) -> Any:
        if str(inputs.dtype) not in ("float16", "float32", "float64"):
            raise TypeError("Invalid input type. Expected `float16`, `float32` or "
                            f"`float64`. Received: input type={inputs.dtype}")
        channels = inputs.shape[-1 if self.data_format == "channels_last" else 1]
        _conv_length(inputs.shape[1 if self.data_format == "channels_last" else -1],
                     self.frame_length, self._frame_step, self.padding)
        y = self._frames(inputs)
        if self.mode in ("real", "imag", "stft"):
            return self._adjust(y, channels)
        bins = self._fft_length // 2 + 1
        re, im = y[..., :bins], y[..., bins:]
        if self.mode == "angle":
            return self._adjust(ops.arctan2(im, re), channels)
        power = ops.add(ops.square(re), ops.square(im))
        if self.mode == "psd":  # one-sided: every bin but the first and the last twice
            w = np.full(bins, 2.0)
            w[0] = w[-1] = 1.0
            return self._adjust(ops.multiply(power, power.backend.xp.asarray(
                w.astype(power.dtype))), channels)
        eps = gconfig.epsilon()
        linear = ops.sqrt(ops.maximum(power, eps))
        if self.mode == "magnitude":
            return self._adjust(linear, channels)
        return self._adjust(ops.log(ops.maximum(linear, eps)), channels)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        last = self.data_format == "channels_last"
        channels = input_shape[-1] if last else input_shape[1]
        time = _conv_length(input_shape[1] if last else input_shape[-1], self.frame_length,
                            self._frame_step, self.padding)
        bins = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        if self.expand_dims:
            return ((input_shape[0], time, bins, channels) if last else
                    (input_shape[0], channels, time, bins))
        width = None if channels is None else channels * bins
        return (input_shape[0], time, width) if last else (input_shape[0], width, time)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length,
                "window": self.window, "periodic": self.periodic, "scaling": self.scaling,
                "padding": self.padding, "data_format": self.data_format,
                "expand_dims": self.expand_dims}
