"""``GPUNET_NUMBA`` turns the Numba kernels off and on at any time (the flag is read at each
launch, from a cached parse of the raw environment value)."""

import pytest

from gpunet.backend.kernels import numba_cpu

pytest.importorskip("numba")


@pytest.mark.parametrize("value, on", [("0", False), (" OFF ", False), ("false", False),
                                       ("no", False), ("1", True), ("", True), ("yes", True)])
def test_each_value_takes_effect_at_once(monkeypatch, value, on):
    monkeypatch.delenv("GPUNET_NUMBA", raising=False)
    assert numba_cpu.numba_enabled()
    monkeypatch.setenv("GPUNET_NUMBA", value)
    assert numba_cpu.numba_enabled() is on
    assert (numba_cpu.compiled("pool", numba_cpu._build_pool) is None) is (not on)
    monkeypatch.setenv("GPUNET_NUMBA", "0")
    assert not numba_cpu.numba_enabled()
    monkeypatch.delenv("GPUNET_NUMBA")
    assert numba_cpu.numba_enabled()
