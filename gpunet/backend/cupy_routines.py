"""The CuPy forms of the device routines declared on ``Backend`` (a mixin of
``CupyBackend``): atomic scatter-adds, counts without a host sync, ``erf`` from
``cupyx.scipy.special`` and the fused LSTM/GRU step kernels."""

from __future__ import annotations

from typing import Any

Array = Any


class CupyGenerator:
    """A CuPy ``RandomState`` under the method names every backend's generator shares; each
    draw runs on the generator's device."""

    def __init__(self, rs: Any, device: Any) -> None:
        self.rs, self.device = rs, device

    def uniform(self, shape: Any) -> Array:
        with self.device:
            return self.rs.random_sample(shape)

    def normal(self, shape: Any) -> Array:
        with self.device:
            return self.rs.standard_normal(shape)

    def integers(self, low: int, high: int, shape: Any) -> Array:
        with self.device:
            return self.rs.randint(low, high, shape)

    def gamma(self, alpha: Any, shape: Any) -> Array:
        with self.device:
            return self.rs.gamma(alpha, 1.0, shape)

    def binomial(self, n: Any, p: Any, shape: Any) -> Array:
        with self.device:
            return self.rs.binomial(n, p, shape)

    def beta(self, a: Any, b: Any, shape: Any) -> Array:
        with self.device:
            return self.rs.beta(a, b, shape)

    def permutation(self, n: int) -> Array:
        with self.device:
            return self.rs.permutation(n)


class CupyRoutines:
    """The device routines of the CuPy backend (see ``Backend`` for each contract).

    ``cupy.add.at`` (the operation behind ``cupyx.scatter_add``, which CuPy 14 deprecates)
    uses atomics, so the summation order, and the last bits, vary between runs.
    """

    is_host = False
    xp: Any
    _device: Any

    def generator(self, key: tuple | None = None) -> CupyGenerator:
        if key is None:
            return CupyGenerator(self._generator(), self._device)
        import numpy as np

        folded = int(np.random.SeedSequence([k % 2**63 for k in key]).generate_state(1)[0])
        with self._device:
            return CupyGenerator(self.xp.random.RandomState(folded), self._device)

    def scatter_add(self, out: Array, indices: Any, values: Array) -> None:
        try:
            self.xp.add.at(out, indices, values)
        except (AttributeError, NotImplementedError):  # a CuPy without ufunc.at
            import cupyx

            cupyx.scatter_add(out, indices, values)

    def scatter_add_rows(self, out: Array, ids: Array, values: Array) -> None:
        self.scatter_add(out, ids.reshape(-1), values.reshape(-1, out.shape[-1]))

    def bincount(self, idx: Array, size: int, weights: Array | None = None) -> Array:
        # cupy.bincount reads max(idx) back to the host; an atomic add does not.
        xp = self.xp
        if weights is None:
            out = xp.zeros(size, dtype=xp.int32)
            self.scatter_add(out, idx, xp.ones(idx.shape, xp.int32))
        else:
            out = xp.zeros(size, dtype=xp.float32)
            self.scatter_add(out, idx, weights.astype(xp.float32))
        return out

    def argsort(self, x: Array, axis: int = -1) -> Array:
        return self.xp.argsort(x, axis=axis)  # CuPy's sort is always stable

    def erf(self, x: Array) -> Array:
        from cupyx.scipy.special import erf

        return erf(x)

    def lstm_step_kernels(self) -> tuple | None:
        from gpunet.backend.kernels.rnn_steps import lstm_step_kernels

        return lstm_step_kernels(self)

    def gru_step_kernels(self) -> tuple | None:
        from gpunet.backend.kernels.rnn_steps import gru_step_kernels

        return gru_step_kernels(self)
