"""Simple MNIST convnet.

Modelled on the keras.io example "Simple MNIST convnet"
(https://keras.io/examples/vision/mnist_convnet/, keras-io examples/vision/mnist_convnet.py):
the same model, data preparation, ``summary()``, ``fit(verbose=1)`` with a validation split
and ``evaluate``. Only the import block names the framework; with ``import keras`` /
``from keras import layers`` the file runs under Keras 3 unchanged.

Environment: ``EXAMPLE_EPOCHS`` (default 15, as in the example), ``EXAMPLE_SEED``.
The data is ``keras.datasets.mnist.load_data()`` (``$GPUNET_DATA_DIR/mnist.npz`` for gpunet).
"""

import os

import numpy as np

import gpunet as keras
from gpunet import layers

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 128
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 15))

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
