"""OrthogonalRegularizer: Keras 3's mean absolute cosine between distinct rows / columns."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import regularizers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _penalty(w, factor, mode):
    """Written from the Keras 3 formula in float64."""
    m = w if mode == "rows" else w.T
    unit = m / np.sqrt(np.maximum((m * m).sum(1, keepdims=True), 1e-7))
    p = unit @ unit.T
    n = p.shape[0]
    off = np.abs(p[~np.eye(n, dtype=bool)]).sum()
    return factor * 0.5 * off / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_values(backend, mode):
    w = np.random.default_rng(0).normal(size=(4, 3))
    reg = regularizers.OrthogonalRegularizer(0.3, mode=mode)
    got = float(backend.to_numpy(reg(Tensor(backend.asarray(w))).data))
    assert got == pytest.approx(_penalty(w, 0.3, mode), rel=1e-12)


def test_hand_values():
    # rows (1, 0), (1, 1), (0, 2): pair cosines 1/√2, 0, 1/√2; Σ_{i≠j} counts each pair twice,
    # the 0.5 undoes that, so the penalty is factor × the mean over the 3 pairs = 2/(3√2)
    w = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    reg = regularizers.OrthogonalRegularizer(factor=1.0)
    assert float(reg(Tensor(w)).data) == pytest.approx(2 / (3 * np.sqrt(2)), rel=1e-12)
    # orthogonal columns: penalty 0 in columns mode
    assert float(regularizers.OrthogonalRegularizer(1.0, "columns")(
        Tensor(np.array([[1.0, 0.0], [0.0, 3.0], [0.0, 0.0]]))).data) == 0.0
    # the default factor 0.01
    assert float(regularizers.OrthogonalRegularizer()(Tensor(w)).data) == pytest.approx(
        0.01 * 2 / (3 * np.sqrt(2)), rel=1e-12)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_gradient(mode):
    w = np.random.default_rng(1).normal(size=(4, 3))
    check_grad(regularizers.OrthogonalRegularizer(0.5, mode=mode), [w])


def test_config_names_and_errors():
    reg = regularizers.get({"class_name": "OrthogonalRegularizer",
                            "config": {"factor": 0.2, "mode": "columns"}})
    assert isinstance(reg, regularizers.OrthogonalRegularizer)
    assert reg.get_config() == {"factor": 0.2, "mode": "columns"}
    again = regularizers.get(regularizers.serialize(reg))
    assert again.get_config() == reg.get_config()
    assert isinstance(regularizers.get("orthogonal_regularizer"),
                      regularizers.OrthogonalRegularizer)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="factor"):
        regularizers.OrthogonalRegularizer(factor=-1.0)
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(Tensor(np.ones((2, 2, 2))))


def test_as_kernel_regularizer():
    import gpunet

    layer = gpunet.layers.Dense(3, kernel_regularizer=regularizers.OrthogonalRegularizer(0.1))
    layer(Tensor(np.ones((2, 4), "float32")))
    k = np.asarray(layer.kernel.data, np.float64)
    assert len(layer.losses) == 1
    assert float(layer.losses[0].data) == pytest.approx(_penalty(k, 0.1, "rows"), rel=1e-5)
