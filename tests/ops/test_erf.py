"""The SciPy-free ``erf`` used by exact GELU on NumPy, against ``math.erf``."""

import math

import numpy as np
import pytest

from gpunet.backend.numpy_routines import erf_numpy as _erf_numpy


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_matches_math_erf(dtype):
    xs = np.concatenate([np.linspace(-7, 7, 4001), [0.0, 1e-300, -1e-8, 2.5, -2.5, 30.0]])
    xs = xs.astype(dtype)
    ref = np.array([math.erf(float(v)) for v in xs])
    got = _erf_numpy(xs)
    assert got.dtype == dtype
    rtol = 3e-15 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


def test_erf_special_values():
    got = _erf_numpy(np.array([np.inf, -np.inf, np.nan, 0.0]))
    assert got[0] == 1.0 and got[1] == -1.0 and np.isnan(got[2]) and got[3] == 0.0
