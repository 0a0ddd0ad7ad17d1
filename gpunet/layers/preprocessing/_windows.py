"""Window functions by name, as ``scipy.signal.get_window(name, length, fftbins)`` gives them,
computed with NumPy on the host (float64) so that SciPy stays optional.

The windows that take no parameter are here (with SciPy's aliases): ``hann``, ``hamming``,
``blackman``, ``blackmanharris``, ``nuttall``, ``flattop``, ``boxcar``, ``triang``,
``bartlett``, ``barthann``, ``bohman``, ``parzen``, ``cosine`` and ``tukey`` (alpha 0.5).
The few others SciPy knows by name alone (``lanczos``, ``exponential``, ``taylor``) are taken
from SciPy when it is installed; the ones SciPy needs parameters for raise, as SciPy does.
"""

from __future__ import annotations

import math

import numpy as np

_COSINE_TERMS = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.50, 0.08),
    "blackmanharris": (0.35875, 0.48829, 0.14128, 0.01168),
    "nuttall": (0.3635819, 0.4891775, 0.1365995, 0.0106411),
    "flattop": (0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368),
}
_ALIASES = {
    "han": "hann", "hamm": "hamming", "ham": "hamming", "black": "blackman",
    "blk": "blackman", "blackharr": "blackmanharris", "bkh": "blackmanharris",
    "nutl": "nuttall", "nut": "nuttall", "flat": "flattop", "flt": "flattop",
    "box": "boxcar", "ones": "boxcar", "rect": "boxcar", "rectangular": "boxcar",
    "triangle": "triang", "tri": "triang", "bart": "bartlett", "brt": "bartlett",
    "brthan": "barthann", "bth": "barthann", "bman": "bohman", "bmn": "bohman",
    "parz": "parzen", "par": "parzen", "halfcosine": "cosine", "tuk": "tukey",
}
_FROM_SCIPY = ("lanczos", "sinc", "exponential", "poisson", "taylor", "taylorwin")
_NEED_PARAMS = ("kaiser", "ksr", "gaussian", "gauss", "gss", "general_gaussian",
                "general gaussian", "general gauss", "general_gauss", "ggs", "chebwin", "cheb",
                "dpss", "general_cosine", "general cosine", "general_hamming",
                "general hamming", "kaiser_bessel_derived", "kaiser bessel derived", "kbd")


def _symmetric(name: str, m: int) -> np.ndarray:
    """The symmetric window of length ``m`` (``m >= 2``)."""
    if name in _COSINE_TERMS:
        fac = np.linspace(-np.pi, np.pi, m)
        return sum(a * np.cos(k * fac) for k, a in enumerate(_COSINE_TERMS[name]))
    n = np.arange(m, dtype=np.float64)
    if name == "boxcar":
        return np.ones(m)
    if name == "triang":
        k = np.arange(1, (m + 1) // 2 + 1, dtype=np.float64)
        if m % 2 == 0:
            w = (2 * k - 1.0) / m
            return np.concatenate([w, w[::-1]])
        w = 2 * k / (m + 1.0)
        return np.concatenate([w, w[:-1][::-1]])
    if name == "bartlett":
        return np.where(n <= (m - 1) / 2.0, 2.0 * n / (m - 1), 2.0 - 2.0 * n / (m - 1))
    if name == "barthann":
        fac = np.abs(n / (m - 1.0) - 0.5)
        return 0.62 - 0.48 * fac + 0.38 * np.cos(2 * np.pi * fac)
    if name == "bohman":
        fac = np.abs(np.linspace(-1, 1, m)[1:-1])
        w = (1 - fac) * np.cos(np.pi * fac) + np.sin(np.pi * fac) / np.pi
        return np.concatenate([[0.0], w, [0.0]])
    if name == "parzen":
        a = np.abs(np.arange(-(m - 1) / 2.0, (m - 1) / 2.0 + 0.5, 1.0)) / (m / 2.0)
        return np.where(a * (m / 2.0) <= (m - 1) / 4.0, 1 - 6 * a ** 2 + 6 * a ** 3,
                        2 * (1 - a) ** 3)
    if name == "cosine":
        return np.sin(np.pi / m * (n + 0.5))
    # tukey, alpha = 0.5
    alpha = 0.5
    width = int(math.floor(alpha * (m - 1) / 2.0))
    n1, n2, n3 = n[:width + 1], n[width + 1:m - width - 1], n[m - width - 1:]
    w1 = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * n1 / alpha / (m - 1))))
    w3 = 0.5 * (1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * n3 / alpha / (m - 1))))
    return np.concatenate([w1, np.ones(n2.shape), w3])


def check_window_name(name: str) -> None:
    """Raises ``ValueError`` for a name ``get_window`` would refuse (as Keras checks it)."""
    base = _ALIASES.get(name, name)
    if base in _COSINE_TERMS or base in ("boxcar", "triang", "bartlett", "barthann",
                                         "bohman", "parzen", "cosine", "tukey"):
        return
    if name in _NEED_PARAMS:
        raise ValueError(f"The '{name}' window needs one or more parameters, which a window "
                         f"given by name cannot pass. Received: window={name!r}")
    if name in _FROM_SCIPY:
        try:
            import scipy.signal  # noqa: F401
        except ImportError as e:
            raise ValueError(f"The '{name}' window needs SciPy (`pip install scipy`); the "
                             "windows available without it are 'hann', 'hamming', "
                             "'blackman', 'blackmanharris', 'nuttall', 'flattop', 'boxcar', "
                             "'triang', 'bartlett', 'barthann', 'bohman', 'parzen', "
                             "'cosine', 'tukey'.") from e
        return
    raise ValueError(f"Unknown window type. Received: window={name!r}")


def get_window(name: str, length: int, periodic: bool) -> np.ndarray:
    """The window ``name`` of ``length`` samples (float64), periodic (DFT-even, SciPy's
    ``fftbins=True``) or symmetric, as ``scipy.signal.get_window(name, length, periodic)``.

    Args:
        name: a window name (see the module docstring).
        length: the number of samples, a positive integer.
        periodic: True for the periodic window, False for the symmetric one.

    Returns:
        A float64 NumPy array of shape ``(length,)``.
    """
    check_window_name(name)
    base = _ALIASES.get(name, name)
    if name in _FROM_SCIPY:
        import scipy.signal

        return np.asarray(scipy.signal.get_window(name, length, bool(periodic)), np.float64)
    if length <= 1:
        return np.ones(length)
    m = length + 1 if periodic else length
    w = _symmetric(base, m)
    return np.asarray(w[:-1] if periodic else w, np.float64)
