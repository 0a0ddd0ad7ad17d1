"""``Layer.__call__``'s per-call shortcuts change nothing a user sees: an input spec passed
for one (spec, shape, dtype) is not checked again, but a new shape, dtype or spec is; losses
of ``add_loss`` are still cleared at each outermost call."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import layers
from gpunet.autograd.tensor import Tensor
from gpunet.layers import layer as layer_mod
from gpunet.layers.input_spec import InputSpec


class _Spec(layers.Layer):
    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = spec

    def call(self, inputs):
        return inputs


def _t(backend, shape, dtype="float32"):
    return Tensor(backend.asarray(np.zeros(shape, dtype)))


def test_a_new_shape_after_a_passing_call_is_still_checked(backend):
    dense = layers.Dense(3)
    dense(_t(backend, (2, 4)))
    dense(_t(backend, (5, 4)))  # another batch size: fine
    with pytest.raises(ValueError, match=r"layer 'dense'.*axis -1 of input shape to have "
                                         r"value 4"):
        dense(_t(backend, (2, 5)))


def test_a_new_dtype_or_a_replaced_spec_is_checked(backend):
    layer = _Spec(InputSpec(ndim=2, dtype="float32"), name="l")
    layer(_t(backend, (2, 4)))
    layer(_t(backend, (2, 4)))
    with pytest.raises(ValueError, match="expected dtype=float32, found dtype=int32"):
        layer(_t(backend, (2, 4), "int32"))  # float inputs are cast to the layer's dtype
    layer.input_spec = InputSpec(ndim=3)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(_t(backend, (2, 4)))


class _AddsLoss(layers.Layer):
    def call(self, inputs):
        self.add_loss(inputs.sum())
        return inputs


def test_add_loss_is_cleared_per_call_when_it_is_the_first_in_the_process(
        backend, monkeypatch):
    monkeypatch.setattr(layer_mod, "_LOSSES_ADDED", [0])
    inner = _AddsLoss()
    outer = _Spec(None)
    outer.inner = inner
    outer.call = lambda x: inner(x)
    x = _t(backend, (2, 3)) + 1.0
    for _ in range(3):
        outer(x)
        assert len(inner.losses) == 1
        assert float(backend.to_numpy(inner.losses[0].data)) == 6.0
