"""Making new layers and models via subclassing, ending with a variational autoencoder.

Modelled on the keras.io guide "Making new layers and models via subclassing"
(https://keras.io/guides/making_new_layers_and_models_via_subclassing/, keras-io
guides/making_new_layers_and_models_via_subclassing.py): a ``Layer`` with weights made in
``__init__`` and in ``build``, a non-trainable weight updated with ``assign_add``, layers
tracked as attributes of a layer, ``add_loss`` (reset at every top-level call), a
``training`` argument with ``keras.random.dropout``, ``get_config``/``from_config``, and the
guide's VAE: a ``Model`` subclass made of ``Layer`` subclasses, sampling with
``keras.random.normal`` and a KL term added with ``add_loss``, trained on MNIST with ``fit``.
Only the import block names the framework (``import keras`` / ``from keras import layers,
ops`` runs it under Keras 3).

Environment: ``EXAMPLE_EPOCHS`` (default 2, as in the guide), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras
from gpunet import layers, ops

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))


class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
y = linear_layer(x)
assert tuple(y.shape) == (2, 4)
# weights set as attributes are tracked, in creation order
assert linear_layer.weights == [linear_layer.w, linear_layer.b]


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


my_sum = ComputeSum(2)
my_sum(x)
sums = ops.convert_to_numpy(my_sum(x))
print("running sum:", sums)
assert sums.tolist() == [4.0, 4.0]
assert len(my_sum.weights) == 1 and len(my_sum.non_trainable_weights) == 1
assert my_sum.trainable_weights == []


class LazyLinear(keras.layers.Layer):
    """``Linear`` with its weights created in ``build`` from the input shape."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = LazyLinear(32)
        self.linear_2 = LazyLinear(32)
        self.linear_3 = LazyLinear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(ops.ones(shape=(3, 64)))  # the first call creates the weights of every sublayer
print("weights:", len(mlp.weights), "trainable weights:", len(mlp.trainable_weights))
assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6

layer = LazyLinear(64, name="lazy")
config = layer.get_config()
new_layer = LazyLinear.from_config(config)
assert new_layer.units == 64 and new_layer.name == "lazy"


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


layer = OuterLayer()
assert len(layer.losses) == 0  # no losses yet: the layer has never been called
_ = layer(ops.zeros((1, 1)))
assert len(layer.losses) == 1  # one loss value, created by the inner layer
_ = layer(ops.zeros((1, 1)))
assert len(layer.losses) == 1  # `losses` is reset at the start of each top-level call


class OuterLayerWithKernelRegularizer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

    def call(self, inputs):
        return self.dense(inputs)


layer = OuterLayerWithKernelRegularizer()
_ = layer(ops.zeros((1, 1)))
kernel = ops.convert_to_numpy(layer.dense.kernel)
np.testing.assert_allclose(float(layer.losses[0]), 1e-3 * np.sum(kernel**2), rtol=1e-5)


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


dropout = CustomDropout(0.5)
ones = ops.ones((4, 100))
assert np.array_equal(ops.convert_to_numpy(dropout(ones)), np.ones((4, 100)))
dropped = ops.convert_to_numpy(dropout(ones, training=True))
assert set(np.unique(dropped).tolist()) <= {0.0, 2.0} and 0 < (dropped == 0).mean() < 1


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


(x_train, _), (x_test, _) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255

original_dim = 784
vae = VariationalAutoEncoder(784, 64, 32)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())

history = vae.fit(x_train, x_train, epochs=int(os.environ.get("EXAMPLE_EPOCHS", 2)),
                  batch_size=64)
# every layer made in __init__ is tracked: 3 Dense in the encoder, 2 in the decoder
print("trainable weights:", len(vae.trainable_weights))
assert len(vae.trainable_weights) == 10
test_loss = vae.evaluate(x_test, x_test, verbose=0)
print("test loss (MSE + KL):", test_loss)
score = [test_loss]
