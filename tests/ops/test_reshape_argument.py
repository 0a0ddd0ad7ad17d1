"""``ops.reshape`` takes Keras 3's argument name ``newshape`` (and gpunet's older ``shape``)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import ops


def test_newshape_by_position_and_keyword_and_the_old_name(backend):
    x = gpunet.ops.convert_to_tensor(np.arange(6, dtype="float32"))
    for y in (ops.reshape(x, (2, 3)), ops.reshape(x, newshape=(3, -1)),
              ops.reshape(x, shape=(6, 1))):
        assert ops.convert_to_numpy(y).ravel().tolist() == list(range(6))
    assert ops.reshape(x, newshape=(3, -1)).shape == (3, 2)
    with pytest.raises(TypeError, match="newshape"):
        ops.reshape(x)
    with pytest.raises(TypeError, match="newshape"):
        ops.reshape(x, (2, 3), shape=(3, 2))


def test_functional_reshape_saves_and_loads(tmp_path):
    inp = gpunet.Input((6,))
    model = gpunet.Model(inp, ops.reshape(inp, newshape=(-1, 2, 3)))
    x = np.arange(12, dtype="float32").reshape(2, 6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = gpunet.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), x.reshape(2, 2, 3))
