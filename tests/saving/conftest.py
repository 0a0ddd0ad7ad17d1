"""Fixtures for the saving tests: the Keras-layout file writer and small models."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "keras_h5_writer", pathlib.Path(__file__).with_name("keras_h5_writer.py"))
keras_h5_writer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(keras_h5_writer)


@pytest.fixture
def kw():
    """The module that writes Keras 2 / Keras 3 layout files with h5py."""
    return keras_h5_writer


@pytest.fixture
def mlp():
    """``mlp(compile=True)``: Input(4) → Dense(8, relu) → Dense(3, softmax), seeded."""
    from gpunet import Sequential, layers
    from gpunet.utils import set_random_seed

    def make(compile: bool = True, optimizer="adam", name=None):
        set_random_seed(0)
        m = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                        layers.Dense(3, activation="softmax")], name=name)
        if compile:
            m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return m

    return make


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
