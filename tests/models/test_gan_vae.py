"""A GAN and a VAE written as in the keras.io guides (torch-backend ``train_step``: two
optimizers, ``zero_grad``, ``loss.backward()``, ``v.value.grad``, ``optimizer.apply``, loss
trackers in ``metrics``), trained by ``fit`` on small synthetic data: both learn.

Where the guides call ``keras.random`` this file draws with a seeded NumPy generator, and
``torch.concat`` / ``torch.no_grad`` become ``ops.concatenate`` / ``gpunet.no_grad``."""

import numpy as np

import gpunet as keras
from gpunet import layers, ops

REAL_MEAN = np.array([2.0, -1.0], "float32")


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.rng = np.random.default_rng(1337)
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
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]
        random_latent_vectors = self.rng.normal(size=(batch_size, self.latent_dim)).astype(
            "float32")
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = np.concatenate([np.ones((batch_size, 1), "float32"),
                                 np.zeros((batch_size, 1), "float32")], axis=0)
        labels += 0.05 * self.rng.uniform(size=labels.shape).astype("float32")

        self.zero_grad()
        predictions = self.discriminator(combined_images)
        d_loss = self.loss_fn(labels, predictions)
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with keras.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        random_latent_vectors = self.rng.normal(size=(batch_size, self.latent_dim)).astype(
            "float32")
        misleading_labels = np.zeros((batch_size, 1), "float32")
        self.zero_grad()
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(misleading_labels, predictions)
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with keras.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def _gan_distance(gan, rng) -> float:
    z = rng.normal(size=(512, gan.latent_dim)).astype("float32")
    return float(np.linalg.norm(gan.generator.predict(z, verbose=0).mean(0) - REAL_MEAN))


def test_gan_generator_moves_to_the_real_distribution(backend):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    real = (REAL_MEAN + 0.3 * rng.normal(size=(1024, 2))).astype("float32")
    latent_dim = 4
    discriminator = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(16),
                                      layers.LeakyReLU(negative_slope=0.2), layers.Dense(1)],
                                     name="discriminator")
    generator = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(16),
                                  layers.LeakyReLU(negative_slope=0.2), layers.Dense(2)],
                                 name="generator")
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    # the DCGAN example's Adam(beta_1=0.5), with a learning rate for this tiny problem
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.002, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.002, beta_1=0.5),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    before = _gan_distance(gan, rng)
    d0 = [w.copy() for w in discriminator.get_weights()]
    h = gan.fit(real, batch_size=64, epochs=20, verbose=0)
    after = _gan_distance(gan, rng)
    assert set(h.history) == {"d_loss", "g_loss"} and len(h.history["d_loss"]) == 20
    assert all(np.isfinite(h.history["d_loss"]))
    assert not np.allclose(discriminator.get_weights()[0], d0[0])  # both networks trained
    assert after < 0.3 * before, (before, after)  # the generated mean is over 3x closer


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.rng = np.random.default_rng(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = self.rng.normal(size=z_mean.shape).astype("float32")
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker,
                self.kl_loss_tracker]

    def train_step(self, data):
        z_mean, z_log_var, z = self.encoder(data)
        reconstruction = self.decoder(z)
        reconstruction_loss = ops.mean(ops.sum(
            keras.losses.binary_crossentropy(data, reconstruction), axis=1))
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        total_loss = reconstruction_loss + kl_loss
        self.zero_grad()
        total_loss.backward()
        grads = [v.value.grad for v in self.trainable_weights]
        with keras.no_grad():
            self.optimizer.apply(grads, self.trainable_weights)
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


def test_vae_learns_to_reconstruct(backend):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    protos = (rng.uniform(size=(4, 8, 4)) > 0.5).astype("float32")
    data = protos[rng.integers(0, 4, 512)]
    data = np.clip(data + 0.05 * rng.normal(size=data.shape), 0, 1).astype("float32")
    latent_dim = 2
    encoder_inputs = keras.Input(shape=(8, 4))
    x = layers.Flatten()(encoder_inputs)
    x = layers.Dense(32, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(32, activation="relu")(latent_inputs)
    x = layers.Dense(32, activation="sigmoid")(x)
    decoder_outputs = layers.Reshape((8, 4))(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    h = vae.fit(data, epochs=12, batch_size=64, verbose=0)
    rec = h.history["reconstruction_loss"]
    assert list(h.history) == ["kl_loss", "loss", "reconstruction_loss"]  # sorted, as Keras 3
    assert rec[-1] < 0.6 * rec[0], rec  # falls by over 40 %
    assert h.history["kl_loss"][-1] > 0
