"""examples/compare_devices.py runs; with a GPU it also checks that both devices start equal."""

from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_compare_devices_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GPUNET_DATA_DIR", str(tmp_path))  # offline: the embedded digits
    monkeypatch.setenv("HOME", str(tmp_path))
    import gpunet.utils.data_utils as du

    def offline(*a, **k):
        raise du.DatasetNotFoundError("offline in this test")

    monkeypatch.setattr(du, "get_file", offline)
    monkeypatch.syspath_prepend(os.path.join(ROOT, "examples"))
    spec = importlib.util.spec_from_file_location(
        "compare_devices", os.path.join(ROOT, "examples", "compare_devices.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--limit", "600", "--epochs", "1", "--batch-size", "64"])
    out = capsys.readouterr().out
    assert "cpu (numpy)" in out
    if "GPU side skipped" not in out:
        assert "identical initial weights: True" in out
    sys.modules.pop("mnist_mlp", None)
