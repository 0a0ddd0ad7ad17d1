"""What a ``Lambda`` / ``OpLambda`` config may name in safe mode, and the paths that must not
deserialize anything (weights files, ``clone_model``)."""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, Sequential, layers, registry
from gpunet.layers import Lambda
from gpunet.layers import lambda_functions as lf
from gpunet.saving import SafeModeScope

X = np.array([[1.0, -2.0, 3.0], [-1.0, 0.5, -4.0]], dtype="float32")
DANGEROUS = [("builtins", "exec"), ("builtins", "eval"), ("builtins", "__import__"),
             ("builtins", "open"), ("os", "system"), ("os", "popen"), ("subprocess", "run"),
             ("subprocess", "Popen"), ("subprocess", "getoutput"), ("subprocess", "call"),
             ("importlib", "import_module"), ("pickle", "loads"), ("numpy", "load"),
             ("gpunet.saving", "load_model"), ("gpunet.ops", "Tensor"), ("gpunet.ops", "np"),
             ("gpunet.ops", "_rev"), (None, "exec"), (None, "system")]


def _seq_json(fn_name, module, **lam) -> str:
    m = Sequential([Input((3,)), Lambda(gpunet.ops.square, name="lam")])
    cfg = json.loads(m.to_json())
    cfg["config"]["layers"][-1]["config"].update(
        {"function": fn_name, "module": module, "function_type": "function", **lam})
    return json.dumps(cfg)


@pytest.mark.parametrize(("module", "name"), DANGEROUS)
@pytest.mark.parametrize("slot", ["function", "output_shape"])
def test_dangerous_names_are_refused(backend, module, name, slot):
    text = (_seq_json(name, module) if slot == "function" else _seq_json(
        "square", "gpunet.ops", output_shape=name, output_shape_type="function",
        output_shape_module=module))
    where = f"{module}.{name}" if module else name
    with pytest.raises(ValueError) as info:
        gpunet.models.model_from_json(text)
    msg = str(info.value)
    assert f"Lambda layer 'lam': its `{slot}` is the function `{where}`" in msg
    assert "safe_mode=False" in msg and "custom_objects" in msg
    assert "register_serializable" in msg


@pytest.mark.parametrize(("module", "name", "expected"), [
    ("gpunet.ops", "square", X ** 2),
    ("gpunet.ops.math", "abs", np.abs(X)),  # a function's own module path
    (None, "relu", np.maximum(X, 0)),
    ("gpunet.activations", "relu", np.maximum(X, 0)),
    ("builtins", "relu", np.maximum(X, 0)),  # Keras 3 writes its own functions so
    ("keras.activations", "tanh", np.tanh(X)),
    ("keras.src.ops.numpy", "negative", -X),
])
def test_gpunet_functions_are_allowed(backend, module, name, expected):
    model = gpunet.models.model_from_json(_seq_json(name, module))
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-6)


def test_keras3_function_dict_resolves_to_gpunet(backend):
    fn = {"module": "keras.activations", "class_name": "function", "config": "relu",
          "registered_name": "function"}
    model = gpunet.models.model_from_json(_seq_json(fn, None))
    np.testing.assert_allclose(model.predict(X, verbose=0), np.maximum(X, 0))


def test_custom_objects_and_registered_functions_are_allowed(backend):
    def triple(t):
        return t * 3.0

    text = _seq_json("triple", "somewhere_else")
    with pytest.raises(ValueError, match="somewhere_else.triple"):
        gpunet.models.model_from_json(text)
    assert "somewhere_else" not in sys.modules
    model = gpunet.models.model_from_json(text, custom_objects={"triple": triple})
    np.testing.assert_allclose(model.predict(X, verbose=0), 3 * X)
    with gpunet.saving.custom_object_scope({"triple": triple}):
        model = gpunet.saving.model_from_json(text)
    np.testing.assert_allclose(model.predict(X, verbose=0), 3 * X)

    def halve(t):
        return t * 0.5

    registry.register_serializable(package="SafeTest", name="halve_shape")(halve)
    try:
        model = gpunet.models.model_from_json(_seq_json("halve_shape", "x.y"))
        np.testing.assert_allclose(model.predict(X, verbose=0), 0.5 * X)
    finally:
        registry._CUSTOM.pop("halve_shape")
        registry._CUSTOM.pop("SafeTest>halve_shape")


def test_bytecode_direct_from_config_fails_closed(backend):
    cfg = Lambda(lambda t: t + 1.0, name="anon").get_config()
    assert cfg["function_type"] == "lambda"
    with pytest.raises(ValueError, match="'anon'.*Python bytecode.*SafeModeScope"):
        Lambda.from_config(cfg)  # outside any loader: safe, as Keras 3.15
    with SafeModeScope(True), pytest.raises(ValueError, match="bytecode"):
        Lambda.from_config(cfg)
    with SafeModeScope(False):
        layer = Lambda.from_config(cfg)
    np.testing.assert_allclose(layer(X).numpy(), X + 1.0)
    registry.enable_unsafe_deserialization()
    try:
        np.testing.assert_allclose(Lambda.from_config(cfg)(X).numpy(), X + 1.0)
        with SafeModeScope(True), pytest.raises(ValueError, match="bytecode"):
            Lambda.from_config(cfg)  # an explicit scope wins over the process default
    finally:
        registry._UNSAFE_BY_DEFAULT[0] = False
    with pytest.raises(ValueError, match="bytecode"):
        Lambda.from_config(cfg)


@pytest.mark.parametrize("bad", [["rm -rf /"], [3, "x"], [True], [-1], [2.5], [[3], 4],
                                 [[[3]]], {"a": 1}, "3", 7])
def test_raw_output_shape_must_be_ints_or_none(backend, bad):
    cfg = Lambda(gpunet.ops.square, output_shape=(3,), name="shape").get_config()
    cfg["output_shape"] = bad
    for scope in (True, False):
        with SafeModeScope(scope), pytest.raises(ValueError,
                                                 match="'shape'.*`output_shape` must be"):
            Lambda.from_config(cfg)
    with pytest.raises(ValueError, match="'direct'.*`output_shape` must be"):
        Lambda(gpunet.ops.square, output_shape=tuple(bad) if isinstance(bad, list) else bad,
               name="direct")


def test_valid_raw_output_shapes(backend):
    for given, expected in (([3], (None, 3)), ([None, 2], (None, None, 2)), ([], (None,))):
        cfg = Lambda(gpunet.ops.square, output_shape=(3,), name="s").get_config()
        cfg["output_shape"] = given
        assert Lambda.from_config(cfg).compute_output_shape((None, 3)) == expected
    two = Lambda(lambda t: t, output_shape=[(3,), (None, 2)])
    assert two.compute_output_shape((5, 3)) == [(5, 3), (5, None, 2)]


@pytest.mark.parametrize("name", ["Tensor", "_rev", "np", "__import__", "system"])
def test_op_lambda_names_only_public_ops(backend, name):
    x = Input((3,), name="x")
    model = Model(x, gpunet.ops.square(x), name="ops")
    cfg = json.loads(model.to_json())
    op = next(lc for lc in cfg["config"]["layers"] if lc["class_name"] == "OpLambda")
    op["config"]["function"] = name
    with pytest.raises(ValueError, match=f"'{name}' is not a public gpunet.ops function|"
                       f"`tf.{name}`, which gpunet cannot map onto a gpunet.ops function"):
        gpunet.models.model_from_json(json.dumps(cfg))
    op["config"]["function"] = {"class_name": "function", "config": 5}
    with pytest.raises(ValueError, match="must be the name of a gpunet.ops function"):
        gpunet.models.model_from_json(json.dumps(cfg))


def _hostile_config(tmp_path) -> bytes:
    """A model config whose Lambda bytecode creates ``PWNED`` (building the model here runs
    the lambda once, so it is built writing elsewhere and the path is edited afterwards)."""
    built = str(tmp_path / "built")
    lam = Lambda(lambda t, p=built: (open(p, "w").close(), t)[1], name="evil")  # noqa: SIM115
    text = Sequential([Input((3,)), lam]).to_json()
    return text.replace(json.dumps(built), json.dumps(str(tmp_path / "PWNED"))).encode()


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_weights_files_never_read_a_config(backend, tmp_path, name):
    model = Sequential([Input((3,)), layers.Dense(2, name="d")])
    model.save_weights(tmp_path / name)
    with h5py.File(tmp_path / name, "r+") as f:
        f.attrs["model_config"] = _hostile_config(tmp_path)
    fresh = Sequential([Input((3,)), layers.Dense(2, name="d")])
    fresh.load_weights(tmp_path / name)
    assert json.loads(_hostile_config(tmp_path))["config"]["layers"][-1]["config"][
        "function"][1] == [str(tmp_path / "PWNED")]
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "PWNED").exists()


def test_clone_model_shares_lambda_functions_without_bytecode(backend, monkeypatch):
    def no_bytecode(*args, **kwargs):
        raise AssertionError("clone_model loaded bytecode")

    monkeypatch.setattr(lf, "func_load", no_bytecode)
    scale = np.array([1.0, 2.0, 3.0], "float32")
    seq = Sequential([Input((3,)), Lambda(lambda t: t * scale, name="closure")])
    x = Input((3,))
    func = Model(x, Lambda(lambda t: t - 1.0, name="anon")(x))
    for model, expected in ((seq, X * scale), (func, X - 1.0)):
        clone = gpunet.models.clone_model(model)
        assert clone.layers[-1] is not model.layers[-1]
        np.testing.assert_allclose(clone.predict(X, verbose=0), expected)


def test_mask_functions_load_through_the_allow_list(backend):
    def positive(inputs, mask=None):
        return inputs.data > 0

    model = Sequential([Input((3,)), Lambda(gpunet.ops.abs, mask=positive, name="m")])
    text = model.to_json()
    cfg = json.loads(text)
    lam = cfg["config"]["layers"][-1]["config"]
    assert lam["mask_type"] == "lambda"  # a nested function: bytecode
    with pytest.raises(ValueError, match="'m': its `mask` is Python bytecode"):
        gpunet.models.model_from_json(text)
    loaded = gpunet.models.model_from_json(text, safe_mode=False)
    out = loaded.layers[-1](X)
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), X > 0)
    lam.update({"mask": "positive", "mask_type": "function", "mask_module": "elsewhere"})
    with pytest.raises(ValueError, match="'m': its `mask` is the function `elsewhere.positive`"):
        gpunet.models.model_from_json(json.dumps(cfg))
    loaded = gpunet.models.model_from_json(json.dumps(cfg), custom_objects={"positive": positive})
    out = loaded.layers[-1](X)
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), X > 0)
    np.testing.assert_array_equal(out.numpy(), np.abs(X))
    lam.update({"mask": [True, False], "mask_type": "raw"})
    with pytest.raises(ValueError, match="'m': a constant `mask` in a config is not supported"):
        gpunet.models.model_from_json(json.dumps(cfg))


def test_nested_lambda_configs_are_refused_too(backend, tmp_path):
    """A Lambda inside TimeDistributed is rebuilt by the wrapper's from_config: the same
    allow-list applies there."""
    model = Sequential([Input((2, 3)), layers.TimeDistributed(Lambda(gpunet.ops.abs, name="in"),
                                                              name="td")])
    cfg = json.loads(model.to_json())
    inner = cfg["config"]["layers"][-1]["config"]["layer"]["config"]
    assert (inner["function"], inner["module"]) == ("abs", "gpunet.ops")
    x = np.stack([X, -X])
    np.testing.assert_allclose(gpunet.models.model_from_json(json.dumps(cfg)).predict(
        x, verbose=0), np.abs(x))
    marker = str(tmp_path / "PWNED")
    inner.update({"function": lf.func_dump(lambda t, p=marker: (open(p, "w").close(), t)[1]),  # noqa: SIM115
                  "function_type": "lambda"})
    with pytest.raises(ValueError, match="'in': its `function` is Python bytecode"):
        gpunet.models.model_from_json(json.dumps(cfg))
    inner.update({"function": "system", "function_type": "function", "module": "os"})
    with pytest.raises(ValueError, match="'in': its `function` is the function `os.system`"):
        gpunet.saving.model_from_json(json.dumps(cfg))
    assert not (tmp_path / "PWNED").exists()
