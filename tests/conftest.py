"""Shared fixtures: the ``backend`` fixture runs a test on every usable backend."""

from __future__ import annotations

import os

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
