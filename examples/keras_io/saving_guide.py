"""Save, serialize and export models: a subclassed model, custom objects, ``.keras`` and weights.

Modelled on the keras.io guide "Save, serialize, and export models"
(https://keras.io/guides/serialization_and_saving/, keras-io
guides/serialization_and_saving.py): a custom layer and a custom activation registered with
``keras.saving.register_keras_serializable``, a ``Model`` subclass with ``get_config`` /
``from_config``, the whole model saved to and loaded from a ``.keras`` archive (with and
without ``custom_objects``), ``get_config``/``from_config`` cloning, and weights-only saving
(``save_weights`` / ``load_weights`` with a ``.weights.h5`` file) into a fresh instance. Files are
written to the working directory, as in the guide. Only the import block names the framework.

Environment: ``EXAMPLE_EPOCHS`` (default 1), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras
from gpunet import ops

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 1))


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


@keras.saving.register_keras_serializable(package="my_package")
class MyModel(keras.Model):
    """A subclassed model: a scaling layer, a hidden Dense with the custom activation, and a
    Dense head, all made in ``__init__`` and tracked as attributes."""

    def __init__(self, hidden_units, factor=0.5, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.factor = factor
        self.scale = CustomLayer(factor)
        self.hidden = keras.layers.Dense(hidden_units, activation=custom_fn)
        self.head = keras.layers.Dense(1)

    def call(self, inputs):
        return self.head(self.hidden(self.scale(inputs)))

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_units": self.hidden_units, "factor": self.factor})
        return config


x = np.random.random((256, 4)).astype("float32")
y = (ops.convert_to_numpy(ops.sum(x, axis=1, keepdims=True)) ** 2).astype("float32")

model = MyModel(8, name="my_model")
model.compile(optimizer="adam", loss="mean_squared_error")
history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
predictions = model.predict(x, verbose=0)

# The whole model in one archive: architecture (get_config), weights and optimizer state.
model.save("custom_model.keras")
reconstructed = keras.models.load_model("custom_model.keras")  # registered: no custom_objects
np.testing.assert_allclose(reconstructed.predict(x, verbose=0), predictions, rtol=1e-6)
assert isinstance(reconstructed, MyModel) and reconstructed.hidden_units == 8
assert len(reconstructed.weights) == len(model.weights) == 4

# Passing the custom objects explicitly works as well.
reconstructed = keras.models.load_model(
    "custom_model.keras",
    custom_objects={"MyModel": MyModel, "CustomLayer": CustomLayer, "custom_fn": custom_fn},
)
np.testing.assert_allclose(reconstructed.predict(x, verbose=0), predictions, rtol=1e-6)

# The loaded model goes on training from the saved optimizer state.
model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
reconstructed.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
np.testing.assert_allclose(reconstructed.predict(x, verbose=0), model.predict(x, verbose=0),
                           rtol=1e-4, atol=1e-5)

# A Functional model with the custom layer and activation.
inputs = keras.Input(shape=(4,))
mid = CustomLayer(0.5)(inputs)
outputs = keras.layers.Dense(3, activation=custom_fn)(mid)
functional = keras.Model(inputs, outputs)
functional.compile(optimizer="rmsprop", loss="mean_squared_error")
functional.save("custom_functional.keras")
loaded_functional = keras.models.load_model("custom_functional.keras")
np.testing.assert_allclose(loaded_functional.predict(x, verbose=0),
                           functional.predict(x, verbose=0), rtol=1e-6)

# In-memory cloning through the config.
config = functional.get_config()
with keras.saving.custom_object_scope({"CustomLayer": CustomLayer, "custom_fn": custom_fn}):
    new_model = keras.Model.from_config(config)
assert [type(layer).__name__ for layer in new_model.layers] == [
    type(layer).__name__ for layer in functional.layers]

# Weights only: save_weights / load_weights into a fresh instance of the subclass.
model.save_weights("my_model.weights.h5")
fresh = MyModel(8)
fresh(x[:1])  # build it (its variables are created on the first call)
fresh.load_weights("my_model.weights.h5")
np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

# get_weights / set_weights move the state between two instances in memory.
other = MyModel(8)
other(x[:1])
other.set_weights(model.get_weights())
np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

score = [float(model.evaluate(x, y, verbose=0))]
print("loss after training and reloading:", score[0])
