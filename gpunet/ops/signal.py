"""``stft`` / ``istft`` as Keras 3 computes them, differentiable: frames come from a gather,
the DFT is a product with cosine and sine matrices, and the overlap-add of ``istft`` is the
gather's adjoint (the ``Fold`` node)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.misc import extract_sequences, pad
from gpunet.ops.patches import Fold
from gpunet.ops.shape_ops import getitem, reshape

__all__ = ["istft", "stft"]


def _window(window: Any, sequence_length: int, fft_length: int, like: Tensor) -> Any:
    """The (zero-padded to ``fft_length``) window as a backend array, as Keras builds it."""
    xp = xp_of(like)
    if window is None:  # Keras: ones over the whole fft_length, not padded
        return xp.ones(fft_length, like.dtype)
    if isinstance(window, str):
        n = np.arange(sequence_length)
        if window == "hann":  # SciPy's periodic windows (get_window's fftbins=True)
            w = 0.5 - 0.5 * np.cos(2 * np.pi * n / sequence_length)
        elif window == "hamming":
            w = 0.54 - 0.46 * np.cos(2 * np.pi * n / sequence_length)
        else:
            raise ValueError("If a string is passed to `window`, it must be one of 'hann', "
                             f"'hamming'. Received: window={window!r}")
    else:
        w = as_tensor(window).numpy() if isinstance(window, Tensor) else np.asarray(window)
        if w.ndim != 1 or w.shape[0] != sequence_length:
            raise ValueError(f"The shape of `window` must be ({sequence_length},). Received: "
                             f"{w.shape}")
    left = (fft_length - sequence_length) // 2
    w = np.pad(w, (left, fft_length - sequence_length - left))
    return xp.asarray(w.astype(like.dtype))


def _dft(n: int, xp: Any, dtype: Any) -> tuple:
    k = np.arange(n // 2 + 1)
    ang = 2 * np.pi * np.outer(np.arange(n), k) / n
    return xp.asarray(np.cos(ang).astype(dtype)), xp.asarray(np.sin(ang).astype(dtype))


def stft(x: Any, sequence_length: int, sequence_stride: int, fft_length: int,
         window: Any = "hann", center: bool = True) -> tuple:
    """Short-time Fourier transform along the last axis; returns ``(real, imag)`` of shape
    ``(..., num_sequences, fft_length // 2 + 1)`` (unscaled, as Keras 3)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"stft: expected a float32 or float64 input. Received: {x.dtype}")
    if fft_length < sequence_length:
        raise ValueError(f"stft: `fft_length` ({fft_length}) must be >= `sequence_length` "
                         f"({sequence_length}).")
    if center:
        h = fft_length // 2
        x = pad(x, [(0, 0)] * (x.ndim - 1) + [(h, h)], mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride)
    frames = M.multiply(frames, Tensor(_window(window, sequence_length, fft_length, x)))
    cos, sin = _dft(fft_length, xp_of(x), x.dtype)
    return M.matmul(frames, Tensor(cos)), M.negative(M.matmul(frames, Tensor(sin)))


def istft(x: tuple, sequence_length: int, sequence_stride: int, fft_length: int,
          length: int | None = None, window: Any = "hann", center: bool = True) -> Tensor:
    """Inverse of ``stft`` (windowed overlap-add normalised by the summed squared window),
    with Keras 3's scaling and trimming; ``x`` is ``(real, imag)``."""
    re, im = as_tensor(x[0]), as_tensor(x[1])
    if re.ndim < 2:
        raise ValueError(f"istft: the input must have at least 2 dimensions. Received shape "
                         f"{tuple(re.shape)}.")
    xp = xp_of(re)
    n = fft_length
    lead, nf = tuple(re.shape[:-2]), re.shape[-2]
    cos, sin = _dft(n, xp, re.dtype)
    c = np.full(n // 2 + 1, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    c = xp.asarray((c / n).astype(re.dtype))
    frames = M.subtract(M.matmul(M.multiply(re, Tensor(c)), Tensor(cos.T.copy())),
                        M.matmul(M.multiply(im, Tensor(c)), Tensor(sin.T.copy())))
    win = _window(window, sequence_length, n, re)
    wsum = win.sum()
    frames = M.multiply(frames, Tensor(win * wsum))
    out_len = n + sequence_stride * (nf - 1)
    b = int(np.prod(lead)) if lead else 1
    idx = (xp.arange(b)[:, None, None] * out_len
           + xp.arange(nf)[None, :, None] * sequence_stride + xp.arange(n)[None, None, :])
    ola = Fold(idx, b * out_len, (b, out_len))(reshape(frames, (b, nf, n)))
    norm = xp.zeros(out_len, re.dtype)
    for f in range(nf):
        norm[f * sequence_stride: f * sequence_stride + n] += win * win
    norm = xp.where(norm > 1e-10, norm, 1.0)
    y = M.divide(ola, Tensor(norm * (wsum if window is not None else sequence_stride)))
    y = reshape(y, lead + (out_len,))
    start = 0 if not center else n // 2
    if length is not None:
        end = start + length
    elif center:
        end = out_len - n // 2
    else:
        end = out_len
    return getitem(y, (..., slice(start, end)))


