"""Keras 3's own ``.keras`` files with ``Lambda`` layers (``tests/fixtures/make_keras_lambda.py``):
what Keras 3 loads in safe mode loads in gpunet's safe mode, with Keras's numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def test_keras3_lambdas_over_keras_functions_load_in_safe_mode(backend):
    ref = np.load(os.path.join(FIXTURES, "lambda_builtin.npz"))
    model = gpunet.models.load_model(os.path.join(FIXTURES, "lambda_builtin.keras"),
                                     compile=False)
    np.testing.assert_allclose(model.predict(ref["x"], verbose=0), ref["y"], rtol=1e-6)
    assert model.get_layer("neg").compute_output_shape((None, 3)) == (None, 3)


@pytest.mark.parametrize("safe_mode", [True, False])
def test_keras3_python_lambda_is_refused_with_one_clear_error(backend, safe_mode):
    path = os.path.join(FIXTURES, "lambda_anon.keras")
    with pytest.raises(ValueError, match=r"lambda_anon\.keras.*Layer 'anon' \(Lambda\) holds a "
                                         "Python lambda") as info:
        gpunet.models.load_model(path, compile=False, safe_mode=safe_mode)
    assert str(info.value).count("Lambda") == 1
