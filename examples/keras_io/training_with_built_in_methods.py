"""Training and evaluation with the built-in methods: custom losses, metrics and layers.

Modelled on the keras.io guide "Training & evaluation with the built-in methods"
(https://keras.io/guides/training_with_built_in_methods/, keras-io
guides/training_with_built_in_methods.py): an MNIST model trained with ``fit`` and a
validation split, ``evaluate`` and ``predict``; a loss written as a function of ``keras.ops``;
a ``keras.losses.Loss`` subclass with a regularization term; a ``keras.metrics.Metric``
subclass keeping its state in variables made with ``add_variable`` and updated with
``assign_add``; a layer adding a loss with ``add_loss``; ``class_weight`` and
``sample_weight``; a learning-rate schedule; ``EarlyStopping`` and ``ModelCheckpoint``
callbacks. Only the import block names the framework.

Environment: ``EXAMPLE_EPOCHS`` (default 2, as in the guide), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras
from gpunet import layers, ops

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 2))

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
y_train = y_train.astype("float32")
y_test = y_test.astype("float32")
RESULT = {}


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.2)
results = model.evaluate(x_test, y_test, batch_size=128)
predictions = model.predict(x_test[:3])
assert predictions.shape == (3, 10)
RESULT["built_in"] = float(results[1])


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
h = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
RESULT["loss_function"] = float(h.history["loss"][-1])


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
h = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
RESULT["loss_class"] = float(h.history["loss"][-1])


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
h = model.fit(x_train, y_train.reshape(-1, 1), batch_size=64, epochs=epochs)
# true positives counted over the last epoch: at most the number of training samples
assert 0 < h.history["categorical_true_positives"][-1] <= len(x_train)
RESULT["true_positives_fraction"] = h.history["categorical_true_positives"][-1] / len(x_train)


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = ActivityRegularizationLayer()(x)  # Insert activity regularization as a layer
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
# The displayed loss is much higher than before, due to the regularization component.
h = model.fit(x_train, y_train, batch_size=64, epochs=1)
RESULT["add_loss_first_epoch"] = float(h.history["loss"][0])

# Class weights: class "5" counts twice as much.
class_weight = {i: 1.0 for i in range(10)}
class_weight[5] = 2.0
model = get_compiled_model()
h = model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)
RESULT["class_weight"] = float(h.history["loss"][-1])

# The same with sample weights.
sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
model = get_compiled_model()
h = model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)
RESULT["sample_weight"] = float(h.history["loss"][-1])

# A learning-rate schedule, early stopping and checkpoints of the best model.
initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
)
model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr_schedule),
              loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1),
    keras.callbacks.ModelCheckpoint(filepath="mymodel_best.keras", save_best_only=True,
                                    monitor="val_loss", verbose=1),
]
history = model.fit(x_train, y_train, epochs=epochs, batch_size=64, callbacks=callbacks,
                    validation_split=0.2)
best = keras.models.load_model("mymodel_best.keras")
RESULT["best_checkpoint_val_loss"] = float(min(history.history["val_loss"]))
score = best.evaluate(x_test, y_test, verbose=0)
print(RESULT, score)
