"""``model.summary()`` prints Keras 3's table character for character (fixture: the text
Keras 3.15 printed for the same models, ``tests/fixtures/make_keras_summary.py``)."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

import gpunet

HERE = pathlib.Path(__file__).parent.parent / "fixtures"
_spec = importlib.util.spec_from_file_location("summary_cases", HERE / "summary_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
EXPECTED = json.loads((HERE / "summary.json").read_text())["cases"]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_summary_equals_keras_text(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    build, kwargs = cases.CASES[name]
    got: list[str] = []
    build(gpunet).summary(print_fn=got.append, **kwargs)
    assert len(got) == 1  # Keras 3 hands print_fn the whole text at once
    assert got[0] == EXPECTED[name]


def test_summary_prints_to_stdout_by_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    cases.mlp(gpunet).summary()
    assert capsys.readouterr().out == EXPECTED["mlp"]


def test_wide_terminal_uses_keras_default_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    got: list[str] = []
    cases.mlp(gpunet).summary(print_fn=got.append)
    assert len(got[0].splitlines()[1]) == 88
    got.clear()
    cases.branches(gpunet).summary(print_fn=got.append)
    assert len(got[0].splitlines()[1]) == 108


def test_bad_layer_range_and_width():
    m = cases.mlp(gpunet)
    with pytest.raises(ValueError, match="do not match"):
        m.summary(layer_range=["nope", "out"])
    with pytest.raises(ValueError, match="length 2"):
        m.summary(layer_range=["d1"])
    with pytest.raises(ValueError, match="Insufficient console width"):
        m.summary(line_length=8)


def test_unbuilt_sequential():
    m = gpunet.Sequential([gpunet.layers.Dense(3, name="d")], name="s")
    got: list[str] = []
    m.summary(print_fn=got.append)
    assert "d (Dense)" in got[0] and "0 (unbuilt)" in got[0] and "│ ?" in got[0]
