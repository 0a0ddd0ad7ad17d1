"""``InputSpec`` (Keras 3's ``keras.InputSpec``) checked in ``Layer.__call__``, eager and
symbolic; the messages follow ``keras/src/layers/input_spec.py``."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.layers.input_spec import InputSpec, assert_input_compatibility


class _Spec(layers.Layer):
    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = spec

    def call(self, inputs, training=None):
        return inputs


def _x(backend, shape, dtype="float32"):
    return backend.asarray(np.zeros(shape, dtype))


@pytest.mark.parametrize("spec,shape,message", [
    (InputSpec(ndim=3), (2, 4),
     r"Input 0 of layer 'l' is incompatible with the layer: expected ndim=3, found ndim=2. "
     r"Full shape received: \(None, 4\)"),
    (InputSpec(min_ndim=3), (2, 4), r"expected min_ndim=3, found ndim=2"),
    (InputSpec(max_ndim=2), (2, 4, 1), r"expected max_ndim=2, found ndim=3"),
    (InputSpec(axes={-1: 3}), (2, 4),
     r"expected axis -1 of input shape to have value 3, but received input with shape "
     r"\(None, 4\)"),
    (InputSpec(shape=(None, 5, 2)), (2, 5, 3),
     r"expected shape=\(None, 5, 2\), found shape=\(None, 5, 3\)"),
    (InputSpec(dtype="int32"), (2, 4), r"expected dtype=int32, found dtype=float32"),
])
def test_each_rule_raises_naming_layer_expectation_and_input(backend, spec, shape, message):
    layer = _Spec(spec, name="l")
    with pytest.raises(ValueError, match=message):
        layer(_x(backend, shape))


@pytest.mark.parametrize("spec,shape", [
    (InputSpec(ndim=2), (3, 4)), (InputSpec(min_ndim=2, axes={-1: 4}), (3, 2, 4)),
    (InputSpec(shape=(None, 4)), (7, 4)), (InputSpec(max_ndim=3), (2,)),
    (InputSpec(shape=(None, 4, 1), allow_last_axis_squeeze=True), (3, 4)),
    (InputSpec(shape=(None, 4), allow_last_axis_squeeze=True), (3, 4, 1)),
])
def test_matching_inputs_pass(backend, spec, shape):
    out = _Spec(spec)(_x(backend, shape))
    assert tuple(out.shape) == shape


def test_symbolic_call_is_checked_too():
    inp = gpunet.Input((4,))
    with pytest.raises(ValueError, match=r"layer 'l'.*expected ndim=3, found ndim=2"):
        _Spec(InputSpec(ndim=3), name="l")(inp)


def test_dense_checks_its_input_size_through_its_spec(backend):
    dense = layers.Dense(2, name="d")
    dense(_x(backend, (1, 3)))
    assert dense.input_spec.axes == {-1: 3} and dense.input_spec.min_ndim == 2
    with pytest.raises(ValueError, match=r"'d'.*expected axis -1 of input shape to have value 3, "
                                         r"but received input with shape \(None, 5\)"):
        dense(_x(backend, (1, 5)))
    with pytest.raises(ValueError, match=r"'d'.*expected min_ndim=2, found ndim=1"):
        dense(_x(backend, (3,)))


def test_several_inputs_names_and_optional(backend):
    specs = [InputSpec(ndim=2, name="a"), InputSpec(ndim=3, name="b", optional=True)]
    a, b = _x(backend, (1, 2)), _x(backend, (1, 2, 3))
    assert_input_compatibility(specs, [a, b], "m")
    assert_input_compatibility(specs, {"b": b, "a": a}, "m")
    assert_input_compatibility(specs, [a, None], "m")
    with pytest.raises(ValueError, match=r"Input 1 with name 'b' of layer 'm'.*ndim=3"):
        assert_input_compatibility(specs, {"a": a, "b": a}, "m")
    with pytest.raises(ValueError, match=r'Missing data for input "b"'):
        assert_input_compatibility(specs, {"a": a}, "m")
    with pytest.raises(ValueError, match=r'Layer "m" expects 2 input\(s\), but it received 1'):
        assert_input_compatibility(specs, [a], "m")
    with pytest.raises(ValueError, match=r"Inputs to a layer should be tensors.*layer 'm'"):
        assert_input_compatibility(specs[0], "text", "m")


def test_bad_spec_arguments_and_config_round_trip():
    with pytest.raises(TypeError, match="`axes` must be a dict with integer keys"):
        InputSpec(axes={"x": 1})
    with pytest.raises(ValueError, match="Axis 3 is greater than the maximum allowed value: 1"):
        InputSpec(ndim=2, axes={3: 1})
    spec = InputSpec(shape=(None, 3), dtype="float32", axes={1: 3})
    again = InputSpec.from_config(spec.get_config())
    assert (again.shape, again.ndim, again.dtype, again.axes) == ((None, 3), 2, "float32", {1: 3})
    assert repr(InputSpec(ndim=2, axes={-1: 4})) == "InputSpec(ndim=2, axes={-1: 4})"
    assert gpunet.InputSpec is InputSpec and gpunet.layers.InputSpec is InputSpec
