"""Writing your own callbacks.

Modelled on the keras.io guide "Writing your own callbacks"
(https://keras.io/guides/writing_your_own_callbacks/, keras-io
guides/writing_your_own_callbacks.py): a callback overriding every global, batch and epoch
hook of ``fit``/``evaluate``/``predict`` and printing the keys of its ``logs`` dict, a callback
printing the loss and the mean absolute error, early stopping at the minimum loss (with
``get_weights``/``set_weights`` and ``model.stop_training``) and a learning-rate scheduler
that sets ``model.optimizer.learning_rate``. Only the import block names the framework.

Environment: ``EXAMPLE_EPOCHS`` (default 30, as in the guide's last two runs), ``EXAMPLE_SEED``.
"""

import os

import numpy as np

import gpunet as keras

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))
EVENTS = []  # (hook, sorted keys of logs) for every hook call, in order


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


# Load example MNIST data and pre-process it
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Limit the data to 1000 samples
x_train = x_train[:1000]
y_train = y_train[:1000]
x_test = x_test[:1000]
y_test = y_test[:1000]


class CustomCallback(keras.callbacks.Callback):
    def _log(self, hook, logs):
        keys = sorted(logs.keys())
        EVENTS.append((hook, keys))
        print(f"{hook}; got log keys: {keys}")

    def on_train_begin(self, logs=None):
        self._log("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._log("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._log(f"on_epoch_begin {epoch}", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(f"on_epoch_end {epoch}", logs)

    def on_test_begin(self, logs=None):
        self._log("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._log("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._log("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._log("on_predict_end", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._log(f"on_train_batch_begin {batch}", logs)

    def on_train_batch_end(self, batch, logs=None):
        self._log(f"on_train_batch_end {batch}", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._log(f"on_test_batch_begin {batch}", logs)

    def on_test_batch_end(self, batch, logs=None):
        self._log(f"on_test_batch_end {batch}", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._log(f"on_predict_batch_begin {batch}", logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._log(f"on_predict_batch_end {batch}", logs)


model = get_model()
model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0, validation_split=0.5,
          callbacks=[CustomCallback()])
res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])
res = model.predict(x_test, batch_size=128, callbacks=[CustomCallback()])


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_test_batch_end(self, batch, logs=None):
        print(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_epoch_end(self, epoch, logs=None):
        print(f"The average loss for epoch {epoch} is {logs['loss']:7.2f} "
              f"and mean absolute error is {logs['mean_absolute_error']:7.2f}.")


model = get_model()
model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0,
          callbacks=[LossAndErrorPrintingCallback()])
res = model.evaluate(x_test, y_test, batch_size=128, verbose=0,
                     callbacks=[LossAndErrorPrintingCallback()])


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing.

    Arguments:
        patience: Number of epochs to wait after min has been hit. After this
            number of no improvement, training stops.
    """

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        # best_weights to store the weights at which the minimum loss occurs.
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0  # epochs waited while the loss is no longer at its minimum
        self.stopped_epoch = 0  # the epoch training stops at
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            # Record the best weights if the current result is better (less).
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


epochs = int(os.environ.get("EXAMPLE_EPOCHS", 30))
model = get_model()
early = EarlyStoppingAtMinLoss()
history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0,
                    callbacks=[LossAndErrorPrintingCallback(), early])
best_loss = float(early.best)
stopped_epoch = early.stopped_epoch


class CustomLearningRateScheduler(keras.callbacks.Callback):
    """Learning rate scheduler which sets the learning rate according to schedule.

    Arguments:
        schedule: a function that takes an epoch index
            (integer, indexed from 0) and current learning rate
            as inputs and returns a new learning rate as output (float).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        # Get the current learning rate from model's optimizer.
        lr = self.model.optimizer.learning_rate
        # Call schedule function to get the scheduled learning rate.
        scheduled_lr = self.schedule(epoch, lr)
        # Set the value back to the optimizer before this epoch starts
        self.model.optimizer.learning_rate = scheduled_lr
        print(f"\nEpoch {epoch}: Learning rate is {float(np.array(scheduled_lr)):6.4f}.")


LR_SCHEDULE = [
    # (epoch to start, learning rate) tuples
    (3, 0.05),
    (6, 0.01),
    (9, 0.005),
    (12, 0.001),
]


def lr_schedule(epoch, lr):
    """Helper function to retrieve the scheduled learning rate based on epoch."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


model = get_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=min(epochs, 15), verbose=0,
                    callbacks=[LossAndErrorPrintingCallback(),
                               CustomLearningRateScheduler(lr_schedule)])
final_lr = float(np.array(model.optimizer.learning_rate))
score = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
RESULT = {"best_loss": best_loss, "stopped_epoch": stopped_epoch, "final_lr": final_lr,
          "scheduled_loss": float(history.history["loss"][-1]), "test_loss": float(score[0]),
          "test_mae": float(score[1])}
print(RESULT)
