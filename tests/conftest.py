"""Shared fixtures: the ``backend`` fixture runs a test on every usable backend."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet import backend as B


def _backends():
    params = [pytest.param("numpy", id="numpy")]
    params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    return params


def pytest_collection_modifyitems(config, items):
    if B.has_gpu():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=_backends())
def backend(request):
    """The NumPy backend, and the CuPy one where a GPU is usable (else that case skips)."""
    b = B.backend_for(request.param)
    with B.device(b):
        yield b


@pytest.fixture(autouse=True)
def _fresh_names():
    from gpunet.layers import clear_session

    clear_session()
    yield


@pytest.fixture
def mnist_dir():
    """The directory holding the real mnist.npz (GPUNET_DATA_DIR), or skip."""
    d = os.environ.get("GPUNET_DATA_DIR")
    if not d or not os.path.exists(os.path.join(d.split(os.pathsep)[0], "mnist.npz")):
        pytest.skip("GPUNET_DATA_DIR does not point at a directory with mnist.npz")
    return d


def _assert_round_trip(model, x, y, tmp_path, loss="mse", optimizer="adam", atol=0.0):
    """Save → load keeps predictions and the next training step identical (the pattern every
    layer's tests join). ``model`` is built and uncompiled; it is compiled here, trained one
    step, saved to HDF5, reloaded, and both copies take the same next step."""
    import gpunet

    model.compile(optimizer=optimizer, loss=loss)
    model.train_on_batch(x, y)
    path = tmp_path / f"{model.name}.h5"
    model.save(path)
    loaded = gpunet.models.load_model(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=0, atol=atol)
    gpunet.utils.set_random_seed(1234)  # the same dropout masks for both copies
    model.train_on_batch(x, y)
    gpunet.utils.set_random_seed(1234)
    loaded.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=max(atol, 1e-7))
    return loaded


@pytest.fixture
def round_trip():
    """``round_trip(model, x, y, tmp_path, loss="mse")``: see ``_assert_round_trip``."""
    return _assert_round_trip
