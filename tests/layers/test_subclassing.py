"""Subclassed layers, Keras 3 rules: attribute tracking, call signatures, build, add_loss.

Reference behaviour (checked with Keras 3.15): sublayers and variables assigned as attributes
(directly, in lists, dicts, tuples, nested Sequential) join ``weights`` in the order own
trainable, own non-trainable, then each sublayer's; reassigning or deleting a *layer*
attribute leaves the old layer tracked, deleting a *variable* attribute untracks it,
``list.pop``/``del dict[key]`` untrack; ``call`` gets ``training``/``mask`` only when it
names them.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gpunet
import gpunet.saving
from gpunet import layers
from gpunet.autograd.variable import Variable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import subclass_models as sm  # noqa: E402


class Tracked(layers.Layer):
    """The case Keras 3.15 was run on (paths listed in test_weight_order_is_keras_order)."""

    def __init__(self, mode=0):
        super().__init__()
        self.d1 = layers.Dense(3)
        self.lst = [layers.Dense(2)]
        self.lst.append(layers.Dense(4))
        self.dct = {"b": layers.Dense(5), "a": layers.Dense(6)}
        self.tup = (layers.Dense(7),)
        self.v = Variable(np.ones((2,), "float32"), name="v", trainable=False)
        if mode == 1:
            self.d1 = layers.Dense(9)
        if mode == 2:
            del self.d1
            del self.v
        if mode == 3:
            self.lst.pop(0)
            del self.dct["b"]

    def build(self, input_shape):
        self.w = self.add_weight(shape=(1,), name="w")

    def call(self, x):
        return x


def _units(layer):
    return [sub.units for sub in layer._sublayers()]


def test_attribute_list_dict_tuple_are_tracked_in_assignment_order(backend):
    t = Tracked()
    assert _units(t) == [3, 2, 4, 5, 6, 7]
    t.build((None, 2))
    for sub in t._sublayers():
        sub.build((None, 2))
    # Keras 3.15: ['a/w', 'v', 'dense/kernel', 'dense/bias', 'dense_1/kernel', ...]
    names = [w.name for w in t.weights]
    assert names[:2] == ["w", "v"]
    assert names[2:] == ["kernel", "bias"] * 6
    assert [tuple(w.shape) for w in t.weights[2::2]] == [(2, u) for u in (3, 2, 4, 5, 6, 7)]
    assert [w.name for w in t.trainable_weights][:1] == ["w"]
    assert [w.name for w in t.non_trainable_weights] == ["v"]
    assert t.count_params() == 1 + 2 + sum(2 * u + u for u in (3, 2, 4, 5, 6, 7))


def test_reassignment_keeps_old_layer_and_deletion_rules():
    # Keras 3.15: reassigning a layer attribute keeps the old layer tracked (units 3 and 9)
    assert _units(Tracked(1)) == [3, 2, 4, 5, 6, 7, 9]
    # deleting a layer attribute keeps the layer, deleting a variable attribute drops it
    t = Tracked(2)
    assert _units(t) == [3, 2, 4, 5, 6, 7]
    assert all(w.name != "v" for w in t._weights)
    # list.pop and del dict[key] untrack
    assert _units(Tracked(3)) == [3, 4, 6, 7]


def test_containers_are_wrapped_and_track_later_changes():
    class Holder(layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.named = {}

    h = Holder()
    h.blocks.append(layers.Dense(1))
    h.blocks += [layers.Dense(2)]
    h.blocks.insert(0, layers.Dense(3))
    h.named["x"] = layers.Dense(4)
    h.named.update(y=layers.Dense(5))
    assert _units(h) == [1, 2, 3, 4, 5]
    h.blocks[0] = layers.Dense(6)  # replaces (untracks) the Dense(3)
    assert _units(h) == [1, 2, 4, 5, 6]
    h.named.pop("x")
    h.blocks.remove(h.blocks[1])  # the Dense(1)
    assert _units(h) == [2, 5, 6]


def test_trainable_false_reaches_sublayers_and_weights(backend):
    blk = sm.define(gpunet)[0](8, 2, 8)
    blk(np.zeros((2, 5, 8), "float32"))
    assert len(blk.trainable_weights) == 16
    blk.trainable = False
    assert blk.trainable_weights == [] and len(blk.non_trainable_weights) == 16
    assert blk.att.trainable is False and blk.ffn.layers[0].trainable is False
    blk.trainable = True
    assert len(blk.trainable_weights) == 16


def test_transformer_block_parameter_count_equals_keras():
    # Keras 3.15 (tests/fixtures/make_keras_subclassing.py): the keras.io transformer text
    # classifier has 657,758 parameters, its TransformerBlock 10,656.
    import json

    here = os.path.join(os.path.dirname(__file__), "..", "fixtures")
    with open(os.path.join(here, "subclass_counts.json")) as f:
        ref = json.load(f)
    model = sm.transformer_classifier(gpunet)
    block = next(lyr for lyr in model.layers if type(lyr).__name__ == "TransformerBlock")
    assert block.count_params() == ref["transformer_block"] == 10656
    assert model.count_params() == ref["transformer_total"] == 657758
    assert sum(int(w.data.size) for w in model.trainable_weights) == 657758


def test_transformer_block_in_a_model_trains_every_weight(backend):
    gpunet.utils.set_random_seed(0)
    model = sm.transformer_classifier(gpunet, **sm.SMALL)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, size=(64, 6)).astype("float32")
    y = (x[:, 0] > 15).astype("int64")
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = [w.numpy() for w in model.trainable_weights]
    assert len(before) == 22  # every tracked weight, as in Keras's model.trainable_weights
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


def test_call_signatures_receive_training_and_mask_only_when_named(backend):
    seen = {}

    class NoTraining(layers.Layer):
        def call(self, x):
            return x * 2

    class Kwargs(layers.Layer):
        def call(self, x, **kwargs):
            seen["kwargs"] = dict(kwargs)
            return x

    class Named(layers.Layer):
        def call(self, x, training=None, mask=None):
            seen["named"] = (training, mask)
            return x

    class Extra(layers.Layer):
        def call(self, x, scale=1.0):
            return x * scale

    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(NoTraining()(x, training=True).numpy(), 2 * x)
    Kwargs()(x, training=True)
    assert seen["kwargs"] == {}  # Keras 3 passes nothing to **kwargs
    Named()(x, training=True)
    assert seen["named"] == (True, None)
    np.testing.assert_allclose(Extra()(x, scale=3.0).numpy(), 3 * x)


def test_subclassed_layer_in_functional_and_sequential_models(backend):
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    inp = gpunet.Input((3,))
    model = gpunet.Model(inp, Scale()(layers.Dense(3)(inp)))
    assert model.count_params() == 3 * 3 + 3 + 3
    seq = gpunet.Sequential([gpunet.Input((3,)), Scale()])
    np.testing.assert_allclose(seq.predict(np.ones((2, 3)), verbose=0), np.ones((2, 3)))


def test_add_weight_keras3_positional_and_keyword_forms(backend):
    class W(layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight((2, 3), "zeros", "float32", False, name="a")
            self.b = self.add_weight(shape=(4,), initializer="ones", trainable=True,
                                     name="b", dtype="float64")
            self.c = self.add_weight("c", (5,), "ones")  # Keras 2 order: name first
            self.d = self.add_weight(shape=(2,), dtype="int32")

    w = W()
    w.build((None, 1))
    assert (w.a.shape, w.a.trainable, w.a.name) == ((2, 3), False, "a")
    assert str(w.b.dtype) == "float64" and float(w.b.numpy().sum()) == 4.0
    assert w.c.name == "c" and w.c.shape == (5,)
    assert str(w.d.dtype) == "int32" and not w.d.numpy().any()  # ints start at zeros
    assert [v.name for v in w.weights][:2] == ["b", "c"] and w.weights[-1].name == "a"
    with pytest.raises(TypeError, match="'w'.*unexpected keyword"):
        w.add_weight(shape=(1,), bogus=1)


def test_add_loss_enters_losses_and_is_cleared_each_call(backend):
    class Penalised(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, kernel_initializer="ones")

        def call(self, x):
            y = self.dense(x)
            self.add_loss(gpunet.ops.sum(y * y) * 0.5)
            return y

    class Outer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = Penalised()

        def call(self, x):
            return self.inner(x)

    outer = Outer()
    x = np.ones((1, 3), "float32")
    outer(x)
    assert len(outer.losses) == 1
    assert float(outer.losses[0].numpy()) == pytest.approx(0.5 * 2 * 9.0)  # (1*3)^2 twice
    outer(2 * x)  # a new outermost call clears the previous losses
    assert len(outer.losses) == 1
    assert float(outer.losses[0].numpy()) == pytest.approx(0.5 * 2 * 36.0)


def test_build_runs_call_to_build_sublayers_when_not_overridden(backend):
    blk = sm.define(gpunet)[0](8, 2, 8)
    blk.build((None, 5, 8))
    # query/key/value (8, 2, 8) + (2, 8); output (2, 8, 8) + (8,); two Dense(8); two norms
    expected = 3 * (8 * 2 * 8 + 2 * 8) + (2 * 8 * 8 + 8) + 2 * (8 * 8 + 8) + 2 * (8 + 8)
    assert blk.built and blk.count_params() == expected == 744


def test_compute_output_shape_of_a_subclassed_layer():
    blk = sm.define(gpunet)[0](8, 2, 8)
    assert blk.compute_output_shape((None, 5, 8)) == (None, 5, 8)


def test_auto_config_round_trip_and_unserializable_arguments():
    emb_cls = sm.define(gpunet)[1]
    layer = emb_cls(6, 30, 8)
    cfg = layer.get_config()
    assert {k: cfg[k] for k in ("maxlen", "vocab_size", "embed_dim")} == {
        "maxlen": 6, "vocab_size": 30, "embed_dim": 8}
    back = emb_cls.from_config(cfg)
    assert (back.maxlen, back.token_emb.input_dim) == (6, 30)

    class HoldsObject(layers.Layer):
        def __init__(self, obj):
            super().__init__()
            self.obj = obj

    with pytest.raises(NotImplementedError, match="HoldsObject.*get_config"):
        HoldsObject(object()).get_config()


def test_serialize_deserialize_keras3_format(backend):
    d = layers.Dense(3, name="d")
    cfg = gpunet.layers.serialize(d)
    assert (cfg["module"], cfg["class_name"], cfg["registered_name"]) == (
        "keras.layers", "Dense", None)
    assert "build_config" not in cfg and cfg["config"]["units"] == 3
    d.build((None, 4))
    assert gpunet.layers.serialize(d)["build_config"] == {"input_shape": [None, 4]}
    back = gpunet.layers.deserialize(gpunet.layers.serialize(d))
    assert type(back) is layers.Dense and back.units == 3 and back.built

    @gpunet.saving.register_keras_serializable(package="my")
    class Blk(layers.Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)

    s = gpunet.layers.serialize(Blk(5))
    # Keras 3.15: {"module": None, "class_name": "Blk", "registered_name": "my>Blk", ...}
    assert (s["module"], s["class_name"], s["registered_name"]) == (None, "Blk", "my>Blk")
    assert s["config"]["units"] == 5
    b2 = gpunet.layers.deserialize(s)
    assert type(b2) is Blk and b2.units == 5
    with pytest.raises(ValueError, match="Unknown layer: 'Nope'"):
        gpunet.layers.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(TypeError, match="Layer instance"):
        gpunet.layers.serialize("dense")
