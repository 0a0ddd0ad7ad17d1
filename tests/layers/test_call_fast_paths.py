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


class _Probe(layers.Layer):
    """Records what ``call`` received; gives a mask of its own where asked."""

    def __init__(self, own_mask=False, **kwargs):
        super().__init__(**kwargs)
        self.seen, self.own_mask = [], own_mask

    def call(self, inputs, training=None, mask=None):
        self.seen.append((inputs.dtype, training, None if mask is None else mask.tolist()))
        return inputs * 1.0

    def compute_mask(self, inputs, mask=None):
        return (inputs.data[..., 0] > 0) if self.own_mask else mask


def test_after_plain_calls_casts_masks_training_and_activity_still_apply(backend):
    probe = _Probe()
    x = _t(backend, (2, 3))
    for training in (True, False, None):  # the plain path passes `training` as given
        probe(x, training=training)
    assert [s[1] for s in probe.seen] == [True, False, None]
    probe(_t(backend, (2, 3), "float64"))  # cast to the compute dtype
    assert probe.seen[-1][0] == np.float32
    masked = _t(backend, (2, 3))
    masked._keras_mask = backend.asarray(np.array([True, False]))
    out = probe(masked)  # the mask reaches call and the output
    assert probe.seen[-1][2] == [True, False]
    assert backend.to_numpy(out._keras_mask).tolist() == [True, False]
    probe.activity_regularizer = lambda y: y.sum() * 0 + 5.0  # set after calls: it counts
    probe(x)
    assert len(probe.losses) == 1 and float(probe.losses[0].data) == 2.5


def test_a_layer_making_masks_makes_them_on_the_plain_path(backend):
    probe = _Probe(own_mask=True)
    data = np.array([[1.0, 0.0], [-1.0, 2.0]], "float32")
    for _ in range(2):
        out = probe(Tensor(backend.asarray(data)))
        assert backend.to_numpy(out._keras_mask).tolist() == [True, False]


def test_weights_on_another_device_take_the_data_there():
    from gpunet.backend import backend_for

    dense = layers.Dense(2)
    x = np.ones((1, 3), "float32")
    dense(Tensor(x))
    moved = []
    real = layer_mod.backend_of

    class Other:  # a stand-in device: the weights' backend is not the data's
        def asarray(self, a):
            moved.append(a.shape)
            return a

    def fake_backend_of(a):
        return Other() if a is dense.kernel.data else real(a)

    layer_mod.backend_of = fake_backend_of
    try:
        dense(Tensor(x))
    finally:
        layer_mod.backend_of = real
    assert moved == [(1, 3)]
    assert backend_for("cpu") is real(x)
