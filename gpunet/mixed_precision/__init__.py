"""``gpunet.mixed_precision``: Keras 3's dtype policies, mixed precision included.

A policy names the dtype of a layer's computations and of its variables. ``"float32"``,
``"float64"``, ``"float16"`` (``"bfloat16"``) use one dtype for both; ``"mixed_float16"`` and
``"mixed_bfloat16"`` compute in float16 / bfloat16 and keep float32 variables, as Keras 3:

- layers cast their floating inputs to the compute dtype and, inside ``call``, read their
  variables cast to it; gradients reach the float32 variables through the cast;
- ``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization`` and ``Embedding``
  compute in float32 inside and return the compute dtype; losses compute in float32;
- ``Model.compile`` wraps the optimizer in ``gpunet.optimizers.LossScaleOptimizer`` (dynamic
  loss scaling) when the model's policy is ``"mixed_float16"`` (``auto_scale_loss=True``);
- ``"mixed_bfloat16"`` needs ``ml_dtypes`` on NumPy (``pip install gpunet[bfloat16]``) and is
  not available on CuPy (gpunet's CUDA kernels are float16/32/64).

``Activation("softmax", dtype="float32")`` as the last layer gives float32 outputs, as Keras
recommends for mixed precision. Mixed precision pays on GPUs (tensor cores). On the CPU it
runs, with Keras's dtypes inside every ``call``, but NumPy has no float16 BLAS: float16
layers train about 100x slower than float32 ones there (``bench/bench_mixed_precision.py``).

Example:

>>> gpunet.mixed_precision.set_global_policy("mixed_float16")
>>> layer = gpunet.layers.Dense(10)
>>> layer.compute_dtype, layer.variable_dtype     # ("float16", "float32")
>>> gpunet.mixed_precision.set_global_policy("float32")
"""

from __future__ import annotations

from gpunet.mixed_precision.policy import (
    DTypePolicy,
    FloatDTypePolicy,
    Policy,
    deserialize,
    dtype_policy,
    get,
    global_policy,
    serialize,
    set_dtype_policy,
    set_global_policy,
)

__all__ = ["DTypePolicy", "FloatDTypePolicy", "Policy", "deserialize", "dtype_policy", "get",
           "global_policy", "serialize", "set_dtype_policy", "set_global_policy"]
