"""Every activation gives Keras 3's values on a grid (tests/fixtures/activations.npz, computed
by Keras itself)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from gpunet import activations
from gpunet.autograd.tensor import Tensor

FIX = np.load(pathlib.Path(__file__).resolve().parent / "fixtures" / "activations.npz")


# Keras 3.15's JAX sparsemax sums the cumulative sums over the support to find tau, so its rows
# do not sum to 1 (the fixture's first row sums to 22.2); gpunet's sparsemax is checked against
# the definition in tests/test_extra_activations.py instead.
KERAS_BUGS = {"sparsemax"}


@pytest.mark.parametrize("name", [str(n) for n in FIX["names"] if str(n) not in KERAS_BUGS])
def test_activation_matches_keras(backend, name):
    fn = activations.get(name)
    kwargs = {"threshold": 0.5, "default_value": 0.0} if name == "threshold" else {}
    got = fn(Tensor(backend.asarray(FIX["x"])), **kwargs)
    np.testing.assert_allclose(backend.to_numpy(got.data), FIX[name], rtol=2e-6, atol=1e-6)


def test_fixture_sparsemax_is_keras_bug_and_ours_is_a_distribution(backend):
    assert FIX["sparsemax"][0].sum() > 2  # the Keras value is not a distribution
    got = backend.to_numpy(activations.get("sparsemax")(Tensor(backend.asarray(FIX["x"]))).data)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-6)
    assert (got >= 0).all()
