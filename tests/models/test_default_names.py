"""Default model names as Keras 3.15 gives them (and prints in ``summary()``: the keras.io
RNN guide's encoder-decoder shows ``Model: "functional"``)."""

from __future__ import annotations

import gpunet as keras


class MyModel(keras.Model):
    pass


def test_functional_models_are_named_as_keras_3():
    i = keras.Input((3,))
    o = keras.layers.Dense(2)(i)
    # Keras 3.15 prints: functional functional_1 functional_2 / my_model / sequential
    assert [keras.Model(i, o).name, keras.Model(i, o).name,
            keras.Model(inputs=i, outputs=o).name] == ["functional", "functional_1",
                                                       "functional_2"]
    assert MyModel(i, o).name == "my_model"
    assert keras.Sequential().name == "sequential"
    assert keras.Model(i, o, name="given").name == "given"
