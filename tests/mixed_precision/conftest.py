"""Every mixed-precision test starts and ends under the float32 global policy."""

from __future__ import annotations

import pytest

from gpunet import mixed_precision


@pytest.fixture(autouse=True)
def _float32_policy():
    mixed_precision.set_global_policy("float32")
    yield
    mixed_precision.set_global_policy("float32")
