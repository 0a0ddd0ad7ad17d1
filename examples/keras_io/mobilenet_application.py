"""A Keras application (MobileNet) built without pretrained weights and trained on digits.

Modelled on the keras.io Applications page, "Usage examples for image classification
models" (https://keras.io/api/applications/, keras-io templates/api/applications): a model
from ``keras.applications`` built with ``weights=None`` for a new number of ``classes`` and
a new ``input_shape``, its inputs prepared with the model's ``preprocess_input``, compiled,
trained with ``fit`` and evaluated; then the same network with ``include_top=False`` and
``pooling="avg"`` as a feature extractor under a new classification head. The images are MNIST
digits padded to 32x32 and repeated over three channels. Only the import block names the
framework.

Environment: ``EXAMPLE_EPOCHS`` (default 5), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras
from gpunet import layers

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 5))

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()


def to_rgb32(images):
    """28x28 grey digits -> 32x32x3 pixels in [0, 255], the input MobileNet expects."""
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(images[..., None], 3, axis=-1).astype("float32")


x_train = keras.applications.mobilenet.preprocess_input(to_rgb32(x_train))
x_test = keras.applications.mobilenet.preprocess_input(to_rgb32(x_test))
assert -1.0 <= x_train.min() and x_train.max() <= 1.0  # "tf" mode: scaled to [-1, 1]

model = keras.applications.MobileNet(
    input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=10
)
model.summary()
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

# The same network without its classifier, as a feature extractor under a new head.
base_model = keras.applications.MobileNet(
    input_shape=(32, 32, 3), alpha=0.25, weights=None, include_top=False, pooling="avg"
)
assert base_model.output_shape == (None, 256)
inputs = keras.Input(shape=(32, 32, 3))
features = base_model(inputs)
outputs = layers.Dense(10, activation="softmax")(features)
classifier = keras.Model(inputs, outputs)
assert classifier.count_params() == base_model.count_params() + 256 * 10 + 10
