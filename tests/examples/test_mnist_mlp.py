"""The example scripts run, and the MNIST MLP learns (real MNIST when GPUNET_DATA_DIR has it)."""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples",
                                                                     f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_falls_back_to_embedded_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUNET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GPUNET_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    import gpunet.utils.data_utils as du

    def offline(*a, **k):
        raise du.DatasetNotFoundError("offline in this test")

    monkeypatch.setattr(du, "get_file", offline)
    import gpunet.datasets.mnist as mn

    monkeypatch.setattr(mn, "get_file", offline, raising=False)
    acc = load_example("mnist_mlp").main(["--epochs", "3", "--device", "cpu", "--verbose", "0"])
    out = capsys.readouterr().out
    assert "embedded 8x8 UCI digits" in out
    assert acc > 0.85


def test_mnist_mlp_reaches_97_percent_in_two_epochs(mnist_dir, capsys):
    acc = load_example("mnist_mlp").main(["--epochs", "2", "--device", "cpu", "--verbose", "0"])
    assert "Dataset: MNIST" in capsys.readouterr().out
    assert acc >= 0.97


@pytest.mark.gpu
def test_mnist_mlp_on_gpu(mnist_dir):
    acc = load_example("mnist_mlp").main(["--epochs", "2", "--device", "gpu", "--verbose", "0"])
    assert acc >= 0.97
