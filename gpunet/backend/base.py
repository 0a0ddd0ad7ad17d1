"""The ``Backend`` object: one array module plus its device, transfers, RNG and kernels.

A backend is an object, not a module-level switch, so a NumPy model and a CuPy model can
live in one process. Code reached from an array finds its backend with ``backend_of``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.philox import PhiloxOps

Array = Any  # numpy.ndarray or cupy.ndarray


class Backend(PhiloxOps):
    """Base class of the NumPy and CuPy backends.

    Attributes:
        name: ``"numpy"`` or ``"cupy"``.
        device: ``"cpu"`` or ``"gpu:<id>"``.
        xp: the array module (``numpy`` or ``cupy``).
    """

    name = "base"
    device = "cpu"
    xp: Any = np

    # -- transfers ---------------------------------------------------------------------------
    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """Returns ``x`` as an array of this backend (copies across devices when needed)."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy copy (or view, on the CPU) of ``x``: the only way data leaves a device."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Waits until every queued kernel has finished (a no-op on the CPU)."""

    def activate(self) -> Any:
        """A context manager that makes this backend's device current (CUDA's current device
        on a GPU, so arrays made inside land on it; nothing on the CPU)."""
        import contextlib

        return contextlib.nullcontext()

    def free_memory(self) -> None:
        """Returns cached, unused device memory to the driver (a no-op on the CPU)."""

    def is_array(self, x: Any) -> bool:
        """True when ``x`` is an array of this backend."""
        return isinstance(x, self.xp.ndarray)

    # -- random numbers (device side: dropout masks, shuffles) ---------------------------------
    def seed(self, seed: int | None) -> None:
        """Re-seeds this backend's device generator."""
        raise NotImplementedError

    def random_uniform(self, shape: tuple, dtype: Any = "float32") -> Array:
        """Uniform ``[0, 1)`` samples drawn on this device."""
        raise NotImplementedError

    def permutation(self, n: int) -> Array:
        """A random permutation of ``range(n)`` as an int64 array on this device."""
        raise NotImplementedError

    def generator(self, key: tuple | None = None) -> Any:
        """A random generator drawing on this device: this backend's own stream
        (``key=None``), or a fresh one seeded by the integers of ``key`` (a seed, or a
        ``SeedGenerator``'s ``(seed, counter)``). Every backend's generator has the same
        methods: ``uniform(shape)`` in ``[0, 1)``, ``normal(shape)``,
        ``integers(low, high, shape)``, ``gamma(alpha, shape)``, ``binomial(n, p, shape)``,
        ``beta(a, b, shape)`` and ``permutation(n)``, all float64 or int64."""
        raise NotImplementedError

    # -- fused kernels used on the hot path ----------------------------------------------------
    def relu_grad(self, gy: Array, y: Array) -> Array:
        """Gradient of ReLU given the output ``y``: ``gy * (y > 0)``."""
        return gy * (y > 0)

    def bias_act(self, y: Array, b: Array | None, relu: bool) -> None:
        """A dense layer's ``y += b`` (``b`` may be None) then ReLU when ``relu``, in place."""
        if b is not None:
            y += b
        if relu:
            self.xp.maximum(y, 0, out=y)

    def relu_grad_bias(self, gy: Array, y: Array, gb: Array | None = None) -> tuple:
        """``(g, gb)``: the ReLU gradient ``g`` of a 2-D ``gy`` and its column sums (the bias
        gradient), written into ``gb`` when given."""
        g = self.relu_grad(gy, y)
        return g, (g.sum(axis=0) if gb is None else g.sum(axis=0, out=gb))

    # -- device routines whose best form differs per device (see ``numpy_routines`` and
    #    ``cupy_routines``; every op above the backend calls these, never ``xp``'s name) -------
    is_host = True  # arrays live in host memory: reading a value back costs no device sync

    def scatter_add(self, out: Array, indices: Any, values: Array) -> None:
        """``out[indices] += values`` in place, with repeated indices accumulated.

        Args:
            out: the array to add into.
            indices: any NumPy-style index (integer arrays, tuples of them, slices).
            values: broadcastable to ``out[indices]``.
        """
        raise NotImplementedError

    def scatter_add_rows(self, out: Array, ids: Array, values: Array) -> None:
        """``out[ids[k]] += values[k]`` for every row ``k`` (repeated ids accumulated).

        Args:
            out: ``(rows, d)`` array added into in place.
            ids: integer ids of any shape.
            values: ``ids.shape + (d,)``.
        """
        raise NotImplementedError

    def bincount(self, idx: Array, size: int, weights: Array | None = None) -> Array:
        """Counts (or sums ``weights``) of the integers ``idx`` in ``[0, size)``, computed on
        the device without reading ``max(idx)`` back. The result's dtype is the device's
        accumulator (integers or float64 on the CPU, int32/float32 on a GPU): cast it."""
        raise NotImplementedError

    def argsort(self, x: Array, axis: int = -1) -> Array:
        """A stable ``argsort`` along ``axis`` (equal values keep their order)."""
        raise NotImplementedError

    def erf(self, x: Array) -> Array:
        """The error function, elementwise, in ``x``'s dtype."""
        raise NotImplementedError

    def all_finite(self, x: Array) -> Any:
        """Whether no element of ``x`` is NaN, +Inf or -Inf: a 0-d boolean array on the device
        (no host read); the NumPy backend answers a Python ``bool`` in one pass."""
        return self.xp.isfinite(x).all()

    def finite_check(self, x: Array) -> Any:
        """``all_finite(x)`` as a function of no arguments, for a buffer checked at every
        training step (what can be decided once is decided here)."""
        return lambda: self.all_finite(x)

    def ignore_overflow(self) -> Any:
        """A context manager inside which an ``exp`` overflowing to inf is not warned about."""
        import contextlib

        return contextlib.nullcontext()

    def single_thread_blas(self) -> Any:
        """A context manager running the matrix products inside it on one BLAS thread (the
        small per-step products of a recurrent time loop); nothing where that does not help."""
        import contextlib

        return contextlib.nullcontext()

    def row_blocks(self, n: int) -> list:
        """Blocks (slices) of the ``n`` batch rows that a recurrent time loop may run side by
        side with ``run_blocks``; one block where each step runs as one device kernel."""
        return [slice(0, n)]

    def run_blocks(self, fn: Any, blocks: list) -> list:
        """``[fn(block) for block in blocks]``, the blocks at once on several threads where
        the backend has them (``fn`` then must touch only its own rows)."""
        return [fn(b) for b in blocks]

    def matmul_tn(self, a: Array, b: Array, out: Array | None = None) -> Array:
        """``a.T @ b`` (a weight gradient: a long reduction over the batch), into ``out``."""
        if out is None:
            return a.T @ b
        return self.xp.matmul(a.T, b, out=out)

    def lstm_step_kernels(self) -> tuple | None:
        """The fused per-step forward and backward kernels of the default LSTM (tanh and
        sigmoid), or ``None`` where the time loop runs on array operations."""
        return None

    def gru_step_kernels(self) -> tuple | None:
        """The fused per-step kernels of the default GRU (``reset_after``, tanh and sigmoid),
        or ``None`` where the time loop runs on array operations."""
        return None

    def max_pool2x2(self, x: Array, out_hw: tuple[int, int], track: bool) -> tuple | None:
        """2x2 stride-2 max pooling of NHWC ``x`` in one fused pass: ``(y, winners)`` (the
        winning cell of each window, first on ties; None unless ``track``), or ``None`` where
        the op's array path is the fast one."""
        return None

    def max_pool2x2_grad(self, gy: Array, winners: Array, in_shape: tuple) -> Array:
        """The input gradient of ``max_pool2x2`` (cells in no window get zero)."""
        raise NotImplementedError

    def conv_relu_pool_ok(self, dtype: Any, ksize: tuple, channels: int) -> bool:
        """Whether ``conv_relu_pool`` runs a ``ksize`` convolution over ``channels`` input
        channels of ``dtype`` (False: the separate convolution and pool ops)."""
        return False

    def conv_relu_pool(self, x: Array, w: Array, b: Array | None) -> tuple:
        """``(y, winners)``: ``maxpool2x2(relu(conv_valid(x, w) + b))`` of NHWC ``x`` (stride
        and dilation 1) without forming the convolution's output, where
        ``conv_relu_pool_ok``."""
        raise NotImplementedError

    def conv_relu_pool_grad(self, x: Array, gy: Array, y: Array, winners: Array,
                            ksize: tuple) -> tuple:
        """``(d kernel, d bias)`` of ``conv_relu_pool`` for the pooled gradient ``gy``."""
        raise NotImplementedError

    def conv_input_grad(self, gy: Array, w2: Array, out_nhw: tuple, in_shape: tuple,
                        ksize: tuple, strides: tuple, dilation: tuple) -> Array | None:
        """The (padded) input gradient of a groups=1 NHWC convolution, ``col2im(gy @ w2.T)``
        with ``w2`` the ``(kh*kw*C, F)`` kernel, in a fused form; or ``None`` where the op's
        own per-offset products are the fast path."""
        return None

    def lstm_cell_step(self, dtype: Any) -> Any:
        """The element-wise forward of one step of the array-path LSTM after its ``exp`` (the
        gates and the new cell state) as one fused call, or ``None`` (see
        ``gpunet.backend.kernels.numba_rnn.lstm_cell_step``)."""
        return None

    def gru_cell_step(self, dtype: Any) -> Any:
        """The element-wise forward of one step of the array-path GRU (``reset_after``) as
        one fused call, or ``None`` (see ``gpunet.backend.kernels.numba_rnn.gru_cell_step``)."""
        return None

    def gru_bptt_step(self, dtype: Any) -> Any:
        """The element-wise back-propagation of one step of the array-path GRU
        (``reset_after``) as one fused call, or ``None`` (see
        ``gpunet.backend.kernels.numba_rnn.gru_bptt_step``)."""
        return None

    def lstm_bptt_step(self, dtype: Any) -> Any:
        """The element-wise back-propagation of one step of the array-path LSTM (gates
        ``i, f, o, g`` after activation) as one fused call, or ``None`` where the op's array
        operations are the path (see ``gpunet.backend.kernels.numba_rnn.lstm_bptt_step``)."""
        return None

    def lstm_loops(self, dtype: Any) -> tuple | None:
        """The default LSTM's whole time loop over a block of batch rows as one call each way
        (no recurrent dropout), or ``None`` where the per-step path runs (see
        ``gpunet.backend.kernels.numba_rnn_loops.lstm_loops``)."""
        return None

    def gru_loops(self, dtype: Any) -> tuple | None:
        """The default GRU's (``reset_after``) whole time loop over a block of batch rows as
        one call each way (no recurrent dropout), or ``None`` where the per-step path runs
        (see ``gpunet.backend.kernels.numba_rnn_loops.gru_loops``)."""
        return None

    def __repr__(self) -> str:
        return f"<gpunet backend {self.name} on {self.device}>"
