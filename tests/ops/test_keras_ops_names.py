"""Every public name of Keras 3.15's ``keras.ops`` (and its ``nn``/``linalg`` namespaces,
``keras.random``) exists in gpunet, or is on the written list of what is left out and why.

The names come from Keras itself (``tests/fixtures/make_keras_ops_names.py`` writes
``keras_ops_names.json``); this test needs no Keras.
"""

from __future__ import annotations

import json
import os

import pytest

import gpunet
from gpunet import ops

NAMES = json.load(open(os.path.join(os.path.dirname(__file__), os.pardir, "fixtures",
                                    "keras_ops_names.json")))


def test_the_fixture_is_keras_3():
    assert NAMES["keras_version"].startswith("3.")
    assert len(NAMES["ops"]) > 300


@pytest.mark.parametrize("space, obj", [("ops", ops), ("ops.nn", ops.nn),
                                        ("ops.linalg", ops.linalg), ("random", gpunet.random)])
def test_every_keras_name_exists_or_is_left_out_with_a_reason(space, obj):
    missing = [n for n in NAMES[space] if not hasattr(obj, n) and n not in ops.LEFT_OUT]
    assert not missing, f"keras.{space} names missing from gpunet: {missing}"
    for n in NAMES[space]:
        if hasattr(obj, n):
            assert callable(getattr(obj, n)) or n in ("nn", "linalg", "numpy", "image"), n


def test_left_out_list_is_short_honest_and_current():
    assert len(ops.LEFT_OUT) <= 15
    for name, why in ops.LEFT_OUT.items():
        assert name in NAMES["ops"], f"{name} is not a Keras op"
        assert not hasattr(ops, name), f"{name} exists now: drop it from LEFT_OUT"
        assert len(why) > 15


def test_shape_is_the_function_not_a_module():
    assert callable(ops.shape) and ops.shape(ops.zeros((2, 5))) == (2, 5)


def test_numpy_namespace_holds_the_numpy_style_ops():
    assert ops.numpy.sum is ops.sum and ops.numpy.einsum is ops.einsum
    assert ops.nn.one_hot is ops.one_hot and ops.linalg.inv is ops.inv


def test_star_import_keeps_numpy():
    namespace: dict = {}
    exec("import numpy\nfrom gpunet.ops import *", namespace)
    assert namespace["numpy"].__name__ == "numpy" and callable(namespace["one_hot"])
