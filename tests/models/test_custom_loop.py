"""A training loop written from scratch as in keras.io's "Writing a training loop from
scratch in PyTorch" (Keras optimizer, loss and metrics; ``model.zero_grad()``,
``loss.backward()``, ``v.value.grad``, ``optimizer.apply``; ``model.losses`` from
``add_loss``-style regularizers): the first step equals NumPy's, and the loop learns."""

import numpy as np

import gpunet as keras
from gpunet import ops


def _blobs(n=512, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0], [-2, 0], [0, 2.5]], "float32")
    labels = rng.integers(0, 3, n)
    x = (centers[labels] + 0.6 * rng.normal(size=(n, 2))).astype("float32")
    return x, np.eye(3, dtype="float32")[labels]


def get_model():
    inputs = keras.Input(shape=(2,), name="digits")
    x1 = keras.layers.Dense(16, activation="relu",
                            kernel_regularizer=keras.regularizers.l2(1e-4))(inputs)
    outputs = keras.layers.Dense(3, name="predictions")(x1)
    return keras.Model(inputs=inputs, outputs=outputs)


def test_first_step_equals_numpy_sgd(backend):
    x, y = _blobs(8)
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    w, b = [a.copy() for a in model.get_weights()]
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    logits = model(x)
    loss = loss_fn(y, logits)
    model.zero_grad()
    trainable_weights = [v for v in model.trainable_weights]
    loss.backward()
    gradients = [v.value.grad for v in trainable_weights]
    with keras.no_grad():
        optimizer.apply(gradients, trainable_weights)
    z = x @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(float(loss.numpy()), -np.mean(np.sum(y * np.log(p), 1)),
                               rtol=1e-5)
    g = (p - y) / len(x)  # d mean-CE / d logits
    np.testing.assert_allclose(model.get_weights()[0], w - 0.5 * x.T @ g, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b - 0.5 * g.sum(0), rtol=1e-5,
                               atol=1e-6)


def test_loop_from_scratch_learns(backend):
    keras.utils.set_random_seed(0)
    x_train, y_train = _blobs(512)
    x_val, y_val = _blobs(128, seed=1)
    batch_size = 64
    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.CategoricalAccuracy()
    val_acc_metric = keras.metrics.CategoricalAccuracy()
    first_losses, accs = [], []
    for epoch in range(3):
        for step in range(len(x_train) // batch_size):
            inputs = x_train[step * batch_size:(step + 1) * batch_size]
            targets = y_train[step * batch_size:(step + 1) * batch_size]
            logits = model(inputs)
            loss = loss_fn(targets, logits)
            if model.losses:
                loss = loss + ops.sum(ops.stack(model.losses))
            model.zero_grad()
            trainable_weights = [v for v in model.trainable_weights]
            loss.backward()
            gradients = [v.value.grad for v in trainable_weights]
            with keras.no_grad():
                optimizer.apply(gradients, trainable_weights)
            train_acc_metric.update_state(targets, logits)
            if epoch == 0 and step == 0:
                first_losses.append(float(loss.detach().numpy()))
        train_acc_metric.reset_state()
        for i in range(0, len(x_val), batch_size):
            val_logits = model(x_val[i:i + batch_size], training=False)
            val_acc_metric.update_state(y_val[i:i + batch_size], val_logits)
        accs.append(float(val_acc_metric.result()))
        val_acc_metric.reset_state()
    assert model.losses  # the l2 regularizer is part of the loss
    assert optimizer.iterations == 24
    assert accs[-1] > 0.9, accs  # three Gaussian blobs, 2.5+ standard deviations apart
    final = float(loss_fn(y_train, model(x_train)).numpy())
    assert final < 0.3 * first_losses[0], (first_losses, final)


def test_weights_repacked_by_another_optimizer_still_train(backend):
    # fit packs the weights into the model's buffers; an optimizer given only the last
    # layer's weights packs those into its own; fit and that optimizer must both keep
    # updating the weights the model uses (no silent no-op), with their state kept.
    x, y = _blobs(64)
    model = get_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, verbose=0)
    head = model.layers[-1].trainable_weights
    opt = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    for _ in range(2):
        model.zero_grad()
        loss_fn(y, model(x)).backward()
        before = head[0].numpy().copy()
        opt.apply([v.value.grad for v in head], head)
        assert not np.array_equal(head[0].numpy(), before)
    w = [a.copy() for a in model.get_weights()]
    model.fit(x, y, batch_size=32, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(model.get_weights(), w))
    model.compile(optimizer="sgd", loss="mse")  # packs every weight again
    model.zero_grad()
    loss_fn(y, model(x)).backward()
    before = head[0].numpy().copy()
    opt.apply([v.value.grad for v in head], head)
    assert not np.array_equal(head[0].numpy(), before)
    assert opt.iterations == 3
