"""MultiHeadAttention draws its kernels with Keras 3.15's einsum fans.

Keras 3.15's ``EinsumDense`` (which MultiHeadAttention's four projections are) gives a
``VarianceScaling`` initializer the kernel's input and output axes: the query/key/value kernel
``(dim, heads, key_dim)`` has fan_in ``dim`` and fan_out ``heads * key_dim``; the output kernel
``(heads, value_dim, dim)`` has fan_in ``heads * value_dim`` and fan_out ``dim``. With
``glorot_uniform`` the values are uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Keras's
formula). The plain last-two-axes fans give a bound about 5x smaller here, and the
keras.io transformer example trained visibly slower with them.
"""

from __future__ import annotations

import math

import numpy as np

from gpunet import layers


def _kernels(mha, query_dim, value_dim=None):
    q = np.zeros((1, 3, query_dim), "float32")
    v = q if value_dim is None else np.zeros((1, 3, value_dim), "float32")
    mha(q, v)
    return {w.name.split("/")[-2]: np.asarray(w.numpy()) for w in mha.weights
            if w.name.endswith("kernel")}


def test_glorot_uniform_bounds_follow_einsum_axes(backend):
    dim, heads, key_dim = 128, 4, 64
    ks = _kernels(layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim), dim)
    proj_limit = math.sqrt(6.0 / (dim + heads * key_dim))  # 0.125
    out_limit = math.sqrt(6.0 / (heads * key_dim + dim))
    for name in ("query", "key", "value"):
        k = ks[name]
        assert k.shape == (dim, heads, key_dim)
        assert np.abs(k).max() <= proj_limit
        assert np.abs(k).max() > 0.98 * proj_limit
        # uniform(-a, a) has std a / sqrt(3); 32768 draws: relative error well under 2%
        np.testing.assert_allclose(k.std(), proj_limit / math.sqrt(3), rtol=0.02)
    k = ks["attention_output"]
    assert k.shape == (heads, key_dim, dim)
    assert np.abs(k).max() <= out_limit and np.abs(k).max() > 0.98 * out_limit


def test_fan_in_initializer_and_value_dim(backend):
    # he_normal: truncated normal with std sqrt(2 / fan_in); fan_in = value's last dim (96)
    # for the value kernel, heads * value_dim (3 * 40) for the output kernel
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=16, value_dim=40,
                                    kernel_initializer="he_normal")
    ks = _kernels(mha, 64, value_dim=96)
    np.testing.assert_allclose(ks["value"].std(), math.sqrt(2.0 / 96), rtol=0.06)
    np.testing.assert_allclose(ks["query"].std(), math.sqrt(2.0 / 64), rtol=0.06)
    np.testing.assert_allclose(ks["attention_output"].std(), math.sqrt(2.0 / 120), rtol=0.06)
    # the layer's own config still names the initializer as given
    assert mha.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


def test_non_variance_scaling_initializer_untouched(backend):
    ks = _kernels(layers.MultiHeadAttention(num_heads=2, key_dim=4,
                                            kernel_initializer="ones"), 8)
    assert all(np.all(k == 1.0) for k in ks.values())
