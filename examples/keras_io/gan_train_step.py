"""Customizing what happens in ``fit()``: ``train_step`` / ``test_step`` overrides and a GAN.

Modelled on the keras.io guide "Customizing what happens in ``fit()`` with PyTorch"
(https://keras.io/guides/custom_train_step_in_torch/, keras-io
guides/custom_train_step_in_torch.py): a ``train_step`` using ``compute_loss`` and the
compiled metrics, one with its own metric trackers listed in the ``metrics`` property, a
``test_step``, and the end-to-end GAN with two optimizers, ``keras.random`` sampling from a
``SeedGenerator`` and ``fit`` on MNIST digits. The step is the torch-backend one:
``self.zero_grad()``, ``loss.backward()``, ``v.value.grad``, ``optimizer.apply``. Where the guide
calls ``torch.concat`` / ``torch.ones`` / ``torch.tensor`` this file calls ``keras.ops``; the
GAN's networks are narrower than the guide's, to train in seconds on a CPU. With
``import keras`` / ``from keras import layers, ops`` the file runs under Keras 3 (torch backend).

Environment: ``EXAMPLE_EPOCHS`` (GAN epochs, default 1 as in the guide), ``EXAMPLE_SEED``.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"  # the backend the guide is written for

import numpy as np  # noqa: E402

import gpunet as keras  # noqa: E402
from gpunet import layers, ops  # noqa: E402

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
RESULT = {}


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        # clear the gradients left from the previous step
        self.zero_grad()
        y_pred = self(x, training=True)  # forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred)
        # gradients for the weights
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        self.optimizer.apply(gradients, trainable_weights)
        # update the metrics (including the one tracking the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])

x = np.random.random((1000, 32)).astype("float32")
y = np.random.random((1000, 1)).astype("float32")
history = model.fit(x, y, epochs=3)
RESULT["compute_loss_step"] = {k: float(v[-1]) for k, v in history.history.items()}


class TrackerModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        self.optimizer.apply(gradients, trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        # listed here so that fit() and evaluate() reset them at the start of each epoch
        return [self.loss_tracker, self.mae_metric]


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = TrackerModel(inputs, outputs)
model.compile(optimizer="adam")  # no loss or metrics: the step has its own
history = model.fit(x, y, epochs=5)
RESULT["tracker_step"] = {k: float(v[-1]) for k, v in history.history.items()}
RESULT["test_step"] = model.evaluate(x, y, return_dict=True)

# The GAN: a discriminator of 28x28x1 images and a generator of them.
discriminator = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ],
    name="discriminator",
)
latent_dim = 32
generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 16),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 16)),
        layers.Conv2DTranspose(16, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(16, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ],
    name="generator",
)


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, (tuple, list)):
            real_images = real_images[0]
        # sample random points in the latent space and decode them to fake images
        batch_size = real_images.shape[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(random_latent_vectors)
        real_images = ops.convert_to_tensor(real_images)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        # labels discriminating real from fake images, with noise (an important trick)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels = labels + 0.05 * keras.random.uniform(labels.shape, seed=self.seed_generator)

        # train the discriminator
        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        # train the generator through labels that say "all real images"; the discriminator's
        # weights are not updated here
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        self.g_optimizer.apply(grads, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


batch_size = 64
(x_train, _), (x_test, _) = keras.datasets.mnist.load_data()
all_digits = np.concatenate([x_train, x_test])
all_digits = all_digits.astype("float32") / 255.0
all_digits = np.reshape(all_digits, (-1, 28, 28, 1))

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
)
d_before = [w.copy() for w in discriminator.get_weights()]
g_before = [w.copy() for w in generator.get_weights()]
history = gan.fit(all_digits, batch_size=batch_size,
                  epochs=int(os.environ.get("EXAMPLE_EPOCHS", 1)))
# both networks were trained by the custom step
assert not np.allclose(discriminator.get_weights()[0], d_before[0])
assert not np.allclose(generator.get_weights()[0], g_before[0])
RESULT["gan"] = {k: float(v[-1]) for k, v in history.history.items()}
print(RESULT)
