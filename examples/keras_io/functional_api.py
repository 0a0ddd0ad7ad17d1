"""The Functional API.

Modelled on the keras.io guide "The Functional API"
(https://keras.io/guides/functional_api/, keras-io guides/functional_api.py): an MNIST
classifier built from ``keras.Input`` and layer calls, ``summary()``, ``fit`` with a
validation split, ``evaluate``, saving to and loading from a ``.keras`` file; models used as
layers (an autoencoder made of an encoder and a decoder model); the multi-input,
multi-output "ticket" model (title, body and tags in, priority and department out) with
losses and loss weights given by output name; a layer shared by two inputs. Only the import
block names the framework.

Environment: ``EXAMPLE_EPOCHS`` (default 2, as in the guide), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras
from gpunet import layers

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 2))

inputs = keras.Input(shape=(784,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.2)
score = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

model.save("my_model.keras")
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("my_model.keras")
reloaded_score = model.evaluate(x_test, y_test, verbose=0)
np.testing.assert_allclose(reloaded_score, score, rtol=1e-6)

# All models are callable, just like layers: an autoencoder of two models.
encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)
encoder = keras.Model(encoder_input, encoder_output, name="encoder")

decoder_input = keras.Input(shape=(16,), name="encoded_img")
x = layers.Reshape((4, 4, 1))(decoder_input)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
decoder = keras.Model(decoder_input, decoder_output, name="decoder")

autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
encoded_img = encoder(autoencoder_input)
decoded_img = decoder(encoded_img)
autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
autoencoder.summary()
assert autoencoder.output_shape == (None, 28, 28, 1)
assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()

# Multiple inputs and outputs: ranking custom issue tickets.
num_tags = 12  # Number of unique issue tags
num_words = 10000  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions

title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

title_features = layers.Embedding(num_words, 64)(title_input)
body_features = layers.Embedding(num_words, 64)(body_input)
title_features = layers.LSTM(128)(title_features)
body_features = layers.LSTM(32)(body_features)
x = layers.concatenate([title_features, body_features, tags_input])
priority_pred = layers.Dense(1, name="priority")(x)
department_pred = layers.Dense(num_departments, name="department")(x)

ticket_model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs={"priority": priority_pred, "department": department_pred},
)
ticket_model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)

# Dummy input data (fewer and shorter tickets than the guide's 1280 x 10 / 100 words).
title_data = np.random.randint(num_words, size=(256, 10))
body_data = np.random.randint(num_words, size=(256, 20))
tags_data = np.random.randint(2, size=(256, num_tags)).astype("float32")
# Dummy target data
priority_targets = np.random.random(size=(256, 1))
dept_targets = np.random.randint(2, size=(256, num_departments))

ticket_history = ticket_model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": dept_targets},
    epochs=1,
    batch_size=32,
)
ticket_loss = float(ticket_history.history["loss"][-1])

# A shared layer: one embedding for two text inputs.
shared_embedding = layers.Embedding(1000, 128)
text_input_a = keras.Input(shape=(None,), dtype="int32")
text_input_b = keras.Input(shape=(None,), dtype="int32")
encoded_input_a = shared_embedding(text_input_a)
encoded_input_b = shared_embedding(text_input_b)
shared = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
assert len(shared.weights) == 1
a, b = shared.predict([np.arange(6)[None], np.arange(6)[None]], verbose=0)
np.testing.assert_array_equal(a, b)
RESULT = {"test_accuracy": float(score[1]), "ticket_loss": ticket_loss}
print(RESULT)
