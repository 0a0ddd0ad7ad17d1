"""save_weights / load_weights: Keras 2 .h5 and Keras 3 .weights.h5 layouts, by_name,
skip_mismatch, and errors that name the file, the layer and the shapes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from gpunet import Sequential, layers


def _model(units=(8, 3), names=("a", "b"), n_in=4):
    return Sequential([layers.Input((n_in,))] +
                      [layers.Dense(u, name=n) for u, n in zip(units, names)])


def _weights(m):
    return [w.copy() for w in m.get_weights()]


@pytest.mark.parametrize("fname", ["w.h5", "w.weights.h5"])
def test_round_trip(tmp_path, backend, fname):
    src, dst = _model(), _model()
    src.save_weights(tmp_path / fname)
    dst.load_weights(tmp_path / fname)
    for a, b in zip(src.get_weights(), dst.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert dst.backend is backend


def test_layouts_written(tmp_path):
    m = _model()
    m.save_weights(tmp_path / "w.h5")
    m.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert "model_config" not in f.attrs
        assert list(f.attrs["layer_names"]) == ["a", "b"]
        assert list(f["a"].attrs["weight_names"]) == ["a/kernel:0", "a/bias:0"]
        assert f["a/a/kernel:0"].shape == (4, 8)
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/dense/vars/0"].shape == (4, 8)
        assert f["layers/dense_1/vars/1"].shape == (3,)
        assert f["layers/dense/vars"].attrs["name"] == "a"


def test_load_weights_from_a_full_model_file(tmp_path, mlp):
    src = mlp()
    src.save(tmp_path / "m.h5")
    dst = mlp(compile=False)
    dst.set_weights([np.zeros_like(w) for w in dst.get_weights()])
    dst.load_weights(tmp_path / "m.h5")
    for a, b in zip(src.get_weights(), dst.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fname", ["w.h5", "w.weights.h5"])
def test_by_name(tmp_path, fname):
    src = _model(units=(8, 3), names=("shared", "head"))
    src.save_weights(tmp_path / fname)
    dst = _model(units=(8, 5), names=("shared", "new_head"))
    before = dst.get_weights()
    dst.load_weights(tmp_path / fname, by_name=True)
    after = dst.get_weights()
    np.testing.assert_array_equal(after[0], src.get_weights()[0])
    np.testing.assert_array_equal(after[2], before[2])


def test_by_name_shape_mismatch_and_skip(tmp_path):
    src = _model(units=(8, 3), names=("shared", "head"))
    src.save_weights(tmp_path / "w.h5")
    dst = _model(units=(8, 5), names=("shared", "head"))
    before = _weights(dst)
    with pytest.raises(ValueError, match=r"layer 'head'.*\(8, 5\).*\(8, 3\)") as e:
        dst.load_weights(tmp_path / "w.h5", by_name=True)
    assert "w.h5" in str(e.value)
    for a, b in zip(before, dst.get_weights()):  # all or nothing
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="head"):
        dst.load_weights(tmp_path / "w.h5", by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(dst.get_weights()[0], src.get_weights()[0])
    np.testing.assert_array_equal(dst.get_weights()[2], before[2])


@pytest.mark.parametrize("fname", ["w.h5", "w.weights.h5"])
def test_by_order_shape_mismatch(tmp_path, fname):
    _model(units=(8, 3)).save_weights(tmp_path / fname)
    dst = _model(units=(8, 6))
    with pytest.raises(ValueError, match=r"'b'.*\(8, 6\).*\(8, 3\)") as e:
        dst.load_weights(tmp_path / fname)
    assert fname in str(e.value)
    with pytest.warns(UserWarning, match="'b'"):
        dst.load_weights(tmp_path / fname, skip_mismatch=True)


def test_layer_count_mismatch_names_layers(tmp_path):
    _model(units=(8, 3)).save_weights(tmp_path / "w.h5")
    dst = _model(units=(8, 3, 2), names=("a", "b", "c"))
    with pytest.raises(ValueError, match=r"Layer count mismatch.*w\.h5.*'c'"):
        dst.load_weights(tmp_path / "w.h5")


def test_keras3_layout_missing_layer(tmp_path):
    _model(units=(8,), names=("a",)).save_weights(tmp_path / "w.weights.h5")
    dst = _model(units=(8, 3))
    with pytest.raises(ValueError, match=r"layer 'b'.*layers/dense_1/vars"):
        dst.load_weights(tmp_path / "w.weights.h5")
    with pytest.warns(UserWarning, match="'b'"):
        dst.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)


def test_unbuilt_model_and_file_without_weights(tmp_path):
    with pytest.raises(ValueError, match="must be built"):
        _model().save_weights(tmp_path / "w.h5") or Sequential(
            [layers.Dense(2)]).load_weights(tmp_path / "w.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.attrs["something"] = 1
    with pytest.raises(ValueError, match=r"empty\.h5.*no Keras weights"):
        _model().load_weights(tmp_path / "empty.h5")
