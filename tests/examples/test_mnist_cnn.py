"""examples/mnist_cnn.py (Functional convnet) learns real MNIST (skipped without it)."""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example():
    spec = importlib.util.spec_from_file_location(
        "mnist_cnn", os.path.join(ROOT, "examples", "mnist_cnn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mnist_cnn_learns_a_subset(mnist_dir):
    acc = _example().main(["--limit", "6000", "--epochs", "2", "--device", "cpu",
                           "--verbose", "0"])
    assert acc > 0.85


@pytest.mark.gpu
def test_mnist_cnn_on_gpu(mnist_dir):
    acc = _example().main(["--limit", "6000", "--epochs", "2", "--device", "gpu",
                           "--verbose", "0"])
    assert acc > 0.85
