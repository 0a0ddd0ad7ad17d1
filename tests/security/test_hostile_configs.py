"""Hostile model configs: a gigantic ``model_config`` attribute, JSON nested past Python's
recursion limit, and configs declaring hundreds of thousands of layers, through every loader
(``.h5``, ``.keras``, ``model_from_json`` / ``model_from_config``). Each is refused before the
model is built, with one error naming the file, in well under 2 s and small memory
(``tracemalloc``)."""

from __future__ import annotations

import json
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet.saving import ModelFileError, config_guard, load_model
from gpunet.saving.serialization import model_from_config, model_from_json

sys.path.insert(0, os.path.dirname(__file__))
from resource_bounds import run_bounded  # noqa: E402

MAX_S, MAX_BYTES = 2.0, 16 << 20
DEEP = 5000  # past the interpreter's recursion limit


def _bounded(fn, exc, match):
    """Runs ``fn``, expecting ``exc``; asserts time and memory stayed small."""
    return run_bounded(fn, exc, match, MAX_S, MAX_BYTES)


def _deep_text() -> str:
    return ('{"class_name": "Sequential", "config": {"name": "s", "layers": ['
            + "[" * DEEP + "]" * DEEP + "]}}")


def _many_layers(n: int) -> str:
    layer = {"class_name": "Dense", "config": {"units": 1}}
    return json.dumps({"class_name": "Sequential",
                       "config": {"name": "s", "layers": [layer] * n}})


def _h5(path, text: str | None = None, vlen: bool = False, size: int | None = None) -> str:
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["backend"] = "jax"
        if size is not None:  # a string attribute of `size` bytes
            text = "x" * size
        if vlen:
            f.attrs.create("model_config", text, dtype=h5py.string_dtype())
        else:
            f.attrs["model_config"] = np.bytes_(text.encode())
        f.create_group("model_weights")
    return str(path)


def _keras(path, text: str) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", text)
        z.writestr("model.weights.h5", b"")
    return str(path)


@pytest.mark.parametrize("vlen", [False, True], ids=["fixed", "vlen"])
def test_oversized_config_attribute_refused_before_it_is_read(tmp_path, vlen):
    path = _h5(tmp_path / "big.h5", vlen=vlen, size=config_guard.MAX_CONFIG_BYTES + 1)
    e = _bounded(lambda: load_model(path), ModelFileError, "big.h5")
    assert str(config_guard.MAX_CONFIG_BYTES) in str(e)


@pytest.mark.parametrize("kind", ["h5", "keras", "json", "config"])
def test_deeply_nested_config_refused(tmp_path, kind):
    text = _deep_text()
    if kind == "h5":
        path = _h5(tmp_path / "deep.h5", text)
        _bounded(lambda: load_model(path), ModelFileError, r"deep\.h5.*nested more than 100")
    elif kind == "keras":
        path = _keras(tmp_path / "deep.keras", text)
        _bounded(lambda: load_model(path), ModelFileError, r"deep\.keras.*nested more than")
    elif kind == "json":
        _bounded(lambda: model_from_json(text), ValueError, "nested more than 100 levels")
    else:  # a dict nested 150 deep (parses fine, refused before deserialization)
        cfg: dict = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
        node = cfg["config"]
        for _ in range(150):
            node["x"] = {}
            node = node["x"]
        _bounded(lambda: model_from_config(cfg), ValueError, "nested more than 100 levels")


@pytest.mark.parametrize("kind", ["h5", "keras", "json"])
def test_config_with_too_many_layers_refused_before_building(tmp_path, kind):
    text = _many_layers(config_guard.MAX_LAYERS + 1)
    match = f"more than {config_guard.MAX_LAYERS} layers"
    if kind == "h5":
        path = _h5(tmp_path / "many.h5", text)
        _bounded(lambda: load_model(path), ModelFileError, r"many\.h5.*" + match)
    elif kind == "keras":
        path = _keras(tmp_path / "many.keras", text)
        _bounded(lambda: load_model(path), ModelFileError, r"many\.keras.*" + match)
    else:
        _bounded(lambda: model_from_json(text), ValueError, match)


def test_nested_models_count_all_their_layers():
    inner = json.loads(_many_layers(config_guard.MAX_LAYERS // 2 + 1))
    cfg = {"class_name": "Sequential", "config": {"name": "outer", "layers": [inner, inner]}}
    with pytest.raises(ValueError, match="more than"):
        model_from_config(cfg)


def test_ordinary_models_stay_far_below_the_limits(tmp_path):
    # a nested Functional model with a Bidirectional LSTM: depth and layer count of a real
    # config are far from the limits, and it round-trips through every format
    inp = gpunet.Input((5, 3))
    inner = gpunet.Sequential([gpunet.layers.Input((5, 3)), gpunet.layers.Bidirectional(
        gpunet.layers.LSTM(4, return_sequences=True)), gpunet.layers.Dense(2)])
    m = gpunet.Model(inp, gpunet.layers.GlobalAveragePooling1D()(inner(inp)))
    cfg = json.loads(m.to_json())
    depth, stack = 0, [(cfg, 1)]
    while stack:
        node, d = stack.pop()
        depth = max(depth, d)
        items = node.values() if isinstance(node, dict) else node
        stack.extend((v, d + 1) for v in items if isinstance(v, (dict, list)))
    assert depth < config_guard.MAX_DEPTH // 2
    for name in ("m.h5", "m.keras"):
        m.save(str(tmp_path / name))
        assert len(load_model(str(tmp_path / name), compile=False).layers) == len(m.layers)
    assert len(model_from_json(m.to_json()).layers) == len(m.layers)


def _huge_dense_config() -> str:
    # 10 000 inputs x 1 000 000 units: 40 GB of float32 declared by a few hundred bytes
    return json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 10000],
                                                "name": "x"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 1000000}}]}})


@pytest.mark.parametrize("kind", ["h5", "keras"])
def test_config_declaring_more_weights_than_the_file_holds_is_refused(tmp_path, kind):
    if kind == "h5":
        path = _h5(tmp_path / "huge.h5", _huge_dense_config())
    else:
        path = _keras(tmp_path / "huge.keras", _huge_dense_config())
    e = _bounded(lambda: load_model(path), ValueError,
                 r"huge\.(h5|keras).*layer 'd' create the weight 'kernel' of shape "
                 r"\(10000, 1000000\)")
    assert "more than the weights the file holds" in str(e)


def test_weight_budget_only_inside_loaders():
    # outside a loader (a user's own config) nothing is capped: building stays Keras's
    from gpunet.weight_budget import SLACK, charge, weight_budget

    charge((10**6, 10**6), "d", "kernel")  # no budget open: nothing happens
    with weight_budget(10, "f.h5"):
        charge((SLACK,), "a", "w")
        with pytest.raises(ValueError, match=r"'f\.h5' makes layer 'b' create the weight 'v' "
                                             r"of shape \(11,\)"):
            charge((11,), "b", "v")
    charge((10**6, 10**6), "d", "kernel")


@pytest.mark.parametrize("loader", ["json", "yaml"])
def test_a_string_config_larger_than_half_the_free_memory_is_refused(loader, monkeypatch):
    # no file to measure against: the cap is half the memory free now (here set to 4 GiB)
    import gpunet.weight_budget as wb

    monkeypatch.setattr(wb, "free_memory_bytes", lambda: 4 * 2**30)
    if loader == "json":
        fn, text = model_from_json, _huge_dense_config()
    else:
        yaml = pytest.importorskip("yaml")
        fn, text = gpunet.models.model_from_yaml, yaml.safe_dump(json.loads(_huge_dense_config()))
    e = _bounded(lambda: fn(text), ValueError,
                 rf"model_from_{loader} string.*layer 'd' create the weight 'kernel' of shape "
                 r"\(10000, 1000000\)")
    assert "more than half the memory free now (4.0 GiB free, float32)" in str(e)
    # a model that fits is built as before
    small = json.loads(_huge_dense_config())
    small["config"]["layers"][1]["config"]["units"] = 10
    assert model_from_json(json.dumps(small)).count_params() == 100010
