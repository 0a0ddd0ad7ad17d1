"""Hostile model configs and every public loader, for the safe-mode tests.

Each exploit kind is a list of ``Lambda`` layer configs appended to a saved model's own
config (read back from the saved ``.h5`` / ``.keras`` file or ``to_json``), so the hostile
files are real files of gpunet's format with only the config edited, as an attacker would.
A code execution shows as a marker file: the tests assert it never appears in safe mode.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py

import gpunet
from gpunet import Input, Model, Sequential, layers
from gpunet.layers.lambda_layer import func_dump


def lambda_cfg(name: str, function="square", function_type="function", module="gpunet.ops",
               output_shape=None, output_shape_type="raw", output_shape_module=None) -> dict:
    """A Keras 2 / gpunet ``Lambda`` layer entry."""
    return {"class_name": "Lambda", "config": {
        "name": name, "trainable": True, "dtype": "float32", "function": function,
        "function_type": function_type, "module": module, "output_shape": output_shape,
        "output_shape_type": output_shape_type, "output_shape_module": output_shape_module,
        "arguments": {}}}


def evil_module(tmp_path: Path, monkeypatch) -> str:
    """A module on ``sys.path`` whose import and whose ``touch`` both create the marker."""
    name = f"evil_{uuid.uuid4().hex[:10]}"
    marker = str(tmp_path / "PWNED")
    (tmp_path / f"{name}.py").write_text(
        f"open({marker!r}, 'w').close()\n\n\n"
        f"def touch(*args, **kwargs):\n    open({marker!r}, 'w').close()\n"
        "    return args[0] if args else None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _toucher(marker: str) -> Callable:
    return lambda x, p=marker: (open(p, "w").close(), x)[1]  # noqa: SIM115


def exploit_layers(kind: str, tmp_path: Path, module: str) -> list[dict]:
    """The appended layer configs of one exploit ``kind`` (see ``KINDS``)."""
    marker = str(tmp_path / "PWNED")
    if kind == "chain":  # the reported chain: raw strings, builtins.reversed, a shell
        return [lambda_cfg("l1", output_shape=[f"touch {marker}"]),
                lambda_cfg("l2", output_shape="reversed", output_shape_type="function",
                           output_shape_module="builtins"),
                lambda_cfg("l3", output_shape=["x"]),
                lambda_cfg("l4", output_shape="getoutput", output_shape_type="function",
                           output_shape_module="subprocess")]
    if kind == "bytecode_function":
        return [lambda_cfg("evil", function=func_dump(_toucher(marker)),
                           function_type="lambda", module=None)]
    if kind == "bytecode_output_shape":
        return [lambda_cfg("evil", output_shape=func_dump(_toucher(marker)),
                           output_shape_type="lambda")]
    if kind == "module_function":
        return [lambda_cfg("evil", function="touch", module=module)]
    if kind == "module_output_shape":
        return [lambda_cfg("evil", output_shape="touch", output_shape_type="function",
                           output_shape_module=module)]
    if kind == "keras3_module_function":  # Keras 3's spelling of a function reference
        return [lambda_cfg("evil", function={"module": module, "class_name": "function",
                                             "config": "touch", "registered_name": "touch"},
                           module=None)]
    if kind == "shell_function":
        return [lambda_cfg("evil", function="getoutput", module="subprocess",
                           output_shape=[2])]
    raise AssertionError(kind)


KINDS = ["chain", "bytecode_function", "bytecode_output_shape", "module_function",
         "module_output_shape", "keras3_module_function", "shell_function"]
# kinds that load and run their code with safe_mode=False (the trusted-file opt-in)
RUN_WHEN_UNSAFE = ["bytecode_function", "bytecode_output_shape", "module_function",
                   "module_output_shape"]


def _append(cfg: dict, extra: list[dict]) -> dict:
    """``extra`` appended to a Sequential or Functional model config (a chain)."""
    cfg = json.loads(json.dumps(cfg))
    inner = cfg["config"]
    if "input_layers" not in inner:
        inner["layers"].extend(extra)
        return cfg
    prev = inner["output_layers"][0][0]
    for entry in extra:
        entry = dict(entry, name=entry["config"]["name"],
                     inbound_nodes=[[[prev, 0, 0, {}]]])
        inner["layers"].append(entry)
        prev = entry["name"]
    inner["output_layers"] = [[prev, 0, 0]]
    return cfg


def base_model(functional: bool = False):
    """A small compiled model (Dense only) whose saved config the exploits extend."""
    if functional:
        x = Input((4,), name="inp")
        model = Model(x, layers.Dense(2, name="dense")(x))
    else:
        model = Sequential([Input((4,)), layers.Dense(2, name="dense")])
    model.compile("adam", "mse")
    return model


def _h5_file(tmp_path: Path, extra: list[dict], functional: bool) -> Path:
    path = tmp_path / "hostile.h5"
    base_model(functional).save(path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(_append(cfg, extra)).encode("utf8")
        for name in list(f.attrs):  # an attacker drops integrity checksums (or recomputes them)
            if "sha256" in name or "checksum" in name:
                del f.attrs[name]
    return path


def _keras_file(tmp_path: Path, extra: list[dict], functional: bool) -> Path:
    path = tmp_path / "hostile.keras"
    base_model(functional).save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["config.json"] = json.dumps(_append(json.loads(members["config.json"]), extra))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    path.write_bytes(buf.getvalue())
    return path


def _config(extra: list[dict], functional: bool) -> dict:
    return _append(json.loads(base_model(functional).to_json()), extra)


def _kw(safe_mode: bool | None) -> dict:
    return {} if safe_mode is None else {"safe_mode": safe_mode}


def _scoped(fn: Callable, safe_mode: bool | None):
    if safe_mode is None:
        return fn()
    from gpunet.registry import SafeModeScope

    with SafeModeScope(safe_mode):
        return fn()


def _yaml(cfg: dict) -> str:
    import yaml

    return yaml.safe_dump(cfg)


# name -> (functional?, load(tmp_path, extra, safe_mode)); safe_mode None = the default
LOADERS: dict[str, tuple[bool, Callable]] = {
    "models.load_model(.h5)": (False, lambda t, e, s: gpunet.models.load_model(
        _h5_file(t, e, False), **_kw(s))),
    "models.load_model(.h5, compile=False)": (False, lambda t, e, s: gpunet.models.load_model(
        _h5_file(t, e, False), compile=False, **_kw(s))),
    "models.load_model(.keras)": (False, lambda t, e, s: gpunet.models.load_model(
        _keras_file(t, e, False), **_kw(s))),
    "models.load_model(.keras, compile=False)": (False, lambda t, e, s: gpunet.models.load_model(
        _keras_file(t, e, False), compile=False, **_kw(s))),
    "saving.load_model(.h5)": (False, lambda t, e, s: gpunet.saving.load_model(
        _h5_file(t, e, False), **_kw(s))),
    "saving.load_model(.keras)": (False, lambda t, e, s: gpunet.saving.load_model(
        _keras_file(t, e, False), **_kw(s))),
    "models.load_model(functional .h5)": (True, lambda t, e, s: gpunet.models.load_model(
        _h5_file(t, e, True), **_kw(s))),
    "models.load_model(functional .keras)": (True, lambda t, e, s: gpunet.models.load_model(
        _keras_file(t, e, True), compile=False, **_kw(s))),
    "models.model_from_json": (False, lambda t, e, s: gpunet.models.model_from_json(
        json.dumps(_config(e, False)), **_kw(s))),
    "models.model_from_yaml": (False, lambda t, e, s: gpunet.models.model_from_yaml(
        _yaml(_config(e, False)), **_kw(s))),
    "saving.model_from_json": (False, lambda t, e, s: gpunet.saving.model_from_json(
        json.dumps(_config(e, False)), **_kw(s))),
    "saving.model_from_yaml": (False, lambda t, e, s: gpunet.saving.model_from_yaml(
        _yaml(_config(e, False)), **_kw(s))),
    "saving.model_from_config": (False, lambda t, e, s: gpunet.saving.model_from_config(
        _config(e, False), **_kw(s))),
    "Sequential.from_config": (False, lambda t, e, s: _scoped(
        lambda: Sequential.from_config(_config(e, False)["config"]), s)),
    "Functional.from_config": (True, lambda t, e, s: _scoped(
        lambda: gpunet.models.Functional.from_config(_config(e, True)["config"]), s)),
    "registry.deserialize": (False, lambda t, e, s: _scoped(
        lambda: gpunet.registry.deserialize("layer", _config(e, False)), s)),
}
if hasattr(gpunet.layers, "deserialize"):  # keras.layers.deserialize's counterpart
    LOADERS["layers.deserialize"] = (False, lambda t, e, s: _scoped(
        lambda: gpunet.layers.deserialize(_config(e, False)), s))
