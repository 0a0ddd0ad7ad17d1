"""Writing a training loop from scratch.

Modelled on the keras.io guide "Writing a training loop from scratch in PyTorch"
(https://keras.io/guides/writing_a_custom_training_loop_in_torch/, keras-io
guides/writing_a_custom_training_loop_in_torch.py): a Functional MNIST classifier trained by a
hand-written loop with a Keras optimizer, loss and metrics (``model.zero_grad()``,
``loss.backward()``, ``v.value.grad``, ``optimizer.apply``), a validation pass at the end of each
epoch, then a layer adding an activity-regularization loss read from ``model.losses`` in the
loop. Where the guide batches with a ``torch.utils.data.DataLoader`` this file slices NumPy
arrays. With ``import keras`` / ``from keras import layers, ops`` it runs under Keras 3 (torch
backend).

Environment: ``EXAMPLE_EPOCHS`` (default 3, as in the guide), ``EXAMPLE_SEED``.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"  # the backend the guide is written for

import numpy as np  # noqa: E402

import gpunet as keras  # noqa: E402
from gpunet import layers, ops  # noqa: E402

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
epochs = int(os.environ.get("EXAMPLE_EPOCHS", 3))
batch_size = 32


def get_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = np.reshape(x_train, (-1, 784)).astype("float32") / 255
x_test = np.reshape(x_test, (-1, 784)).astype("float32") / 255
y_train = y_train.astype("int32")
y_test = y_test.astype("int32")
# keep the last fifth of the training samples for validation
num_val = len(x_train) // 5
x_val, y_val = x_train[-num_val:], y_train[-num_val:]
x_train, y_train = x_train[:-num_val], y_train[:-num_val]


def batches(x, y, shuffle):
    order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


model = get_model()
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

for epoch in range(epochs):
    print(f"Start of epoch {epoch}")
    for step, (inputs, targets) in enumerate(batches(x_train, y_train, shuffle=True)):
        # forward pass
        logits = model(inputs, training=True)
        loss = loss_fn(targets, logits)
        # clear the previous gradients, then backward pass
        model.zero_grad()
        loss.backward()
        trainable_weights = [v for v in model.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        optimizer.apply(gradients, trainable_weights)
        train_acc_metric.update_state(targets, logits)
        if step % 20 == 0:
            print(f"Training loss (for 1 batch) at step {step}: {float(loss):.4f}")
    train_acc = float(train_acc_metric.result())
    print(f"Training acc over epoch: {train_acc:.4f}")
    train_acc_metric.reset_state()

    for x_batch_val, y_batch_val in batches(x_val, y_val, shuffle=False):
        val_logits = model(x_batch_val, training=False)
        val_acc_metric.update_state(y_batch_val, val_logits)
    val_acc = float(val_acc_metric.result())
    val_acc_metric.reset_state()
    print(f"Validation acc: {val_acc:.4f}")

# Losses added by layers during the forward pass are in `model.losses`.


class ActivityRegularizationLayer(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * ops.sum(inputs))
        return inputs


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu")(inputs)
x = ActivityRegularizationLayer()(x)  # the activity regularizer as a layer
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10, name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)

for inputs_b, targets_b in batches(x_train, y_train, shuffle=True):
    logits = model(inputs_b, training=True)
    assert len(model.losses) == 1  # the regularization loss of this forward pass
    loss = loss_fn(targets_b, logits) + sum(model.losses)
    model.zero_grad()
    loss.backward()
    optimizer.apply([v.value.grad for v in model.trainable_weights], model.trainable_weights)

for x_b, y_b in batches(x_test, y_test, shuffle=False):
    val_acc_metric.update_state(y_b, model(x_b, training=False))
regularized_test_acc = float(val_acc_metric.result())
print(f"Test acc of the regularized model after one epoch: {regularized_test_acc:.4f}")
RESULT = {"train_acc": train_acc, "val_acc": val_acc, "regularized_test_acc": regularized_test_acc}
print(RESULT)
