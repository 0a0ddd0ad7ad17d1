"""No code runs from a model file: every public loader × every exploit kind, in safe mode.

The hostile inputs are gpunet's own saved files (``.h5``, ``.keras``, JSON, YAML, config dicts)
with only their model config edited (see ``safe_mode_cases.py``). A code execution creates a
marker file (or imports a planted module); neither may happen under the default safe mode.
With ``safe_mode=False`` the same bytecode / module functions load and run, which shows each
case reaches the code it guards.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "safe_mode_cases", Path(__file__).with_name("safe_mode_cases.py"))
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

LOADERS = sorted(cases.LOADERS)
pytest.importorskip("yaml")


def _expected_message(kind: str, module: str) -> str:
    """A regex the one error must match: layer, what was refused, how to opt in."""
    if kind == "chain":
        return r"Lambda layer 'l1': `output_shape` must be a tuple of ints.*touch"
    if kind.startswith("bytecode"):
        what = kind.split("_", 1)[1]
        return (rf"Lambda layer 'evil': its `{what}` is Python bytecode.*safe mode refuses"
                r".*safe_mode=False.*custom_objects")
    if kind == "shell_function":
        return r"Lambda layer 'evil'.*`subprocess\.getoutput`.*safe_mode=False.*custom_objects"
    if kind == "keras3_module_function":
        return r"Lambda layer 'evil': its `function` is the function `touch`.*safe_mode=False"
    what = "function" if kind == "module_function" else "output_shape"
    return rf"Lambda layer 'evil': its `{what}` is the function `{module}\.touch`.*safe_mode=False"


@pytest.mark.parametrize("kind", cases.KINDS)
@pytest.mark.parametrize("loader", LOADERS)
def test_default_safe_mode_refuses_and_runs_nothing(backend, tmp_path, monkeypatch, loader,
                                                    kind):
    module = cases.evil_module(tmp_path, monkeypatch)
    _, load = cases.LOADERS[loader]
    extra = cases.exploit_layers(kind, tmp_path, module)
    with pytest.raises(ValueError, match=_expected_message(kind, module)) as info:
        load(tmp_path, extra, None)
    assert str(info.value).count("Lambda layer") == 1  # one error, not a chain of them
    assert not (tmp_path / "PWNED").exists(), "code from the file ran"
    assert module not in sys.modules, "a module named by the file was imported"


@pytest.mark.parametrize("kind", cases.KINDS)
@pytest.mark.parametrize("loader", ["models.load_model(.h5)", "models.model_from_json",
                                    "Sequential.from_config"])
def test_explicit_safe_mode_true_refuses(backend, tmp_path, monkeypatch, loader, kind):
    module = cases.evil_module(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="Lambda layer"):
        cases.LOADERS[loader][1](tmp_path, cases.exploit_layers(kind, tmp_path, module), True)
    assert not (tmp_path / "PWNED").exists()
    assert module not in sys.modules


@pytest.mark.parametrize("kind", cases.RUN_WHEN_UNSAFE)
@pytest.mark.parametrize("loader", LOADERS)
def test_safe_mode_false_loads_trusted_bytecode_and_module_functions(
        backend, tmp_path, monkeypatch, loader, kind):
    module = cases.evil_module(tmp_path, monkeypatch)
    _, load = cases.LOADERS[loader]
    model = load(tmp_path, cases.exploit_layers(kind, tmp_path, module), False)
    assert (tmp_path / "PWNED").exists()  # the opt-in really runs the file's code
    assert model.get_layer("evil") is not None


@pytest.mark.parametrize("loader", LOADERS)
def test_chain_and_shell_names_refused_even_with_safe_mode_false(backend, tmp_path,
                                                                  monkeypatch, loader):
    """A raw ``output_shape`` must be ints/None in every mode; so the reported chain fails
    before any of its functions is looked up, also for a trusted file."""
    module = cases.evil_module(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match=_expected_message("chain", module)):
        cases.LOADERS[loader][1](tmp_path, cases.exploit_layers("chain", tmp_path, module),
                                 False)
    assert not (tmp_path / "PWNED").exists()
