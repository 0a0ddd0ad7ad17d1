"""Optional Numba kernels of a small convolution fused with its ReLU and a 2x2 max pool.

For a first convolution over few input channels (``kh * kw * C`` of about 32 at most: the
MNIST and CIFAR stems) the column matrix is thin and the product is bound by memory, not by
arithmetic: the full-size output (``N * OH * OW * F`` floats, 11 MB for the Keras convnet's
first layer at batch 128) is written, read by the ReLU, read again by the pool, and its
gradient is written and read again in backward. These kernels never form it:

- ``fwd`` computes the four convolution outputs under each pooling window, for all filters
  at once (the filter loop is contiguous, so LLVM vectorizes it), and writes only the pooled
  ``relu(max)`` and the winning corner (first in row-major order on ties, NaN wins: as the
  2x2 pool kernel of ``numba_cpu``).
- ``bwd`` sends each pooled gradient (where the pooled output is > 0: the ReLU mask of the
  winner) to its winning corner and accumulates the kernel and bias gradients from the input
  patches there; each thread sums its images into its own buffers, added at the end.

``relu(max(z)) == max(relu(z))`` and the gradient reaches exactly the cells the unfused ops
send it to, so the results equal the unfused path up to the order of the float additions.
Without Numba (or with ``GPUNET_NUMBA=0``) ``conv_relu_pool_kernels`` returns None.
"""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels.numba_cpu import _float_ok, compiled

# the largest ``kh * kw * C`` the fused kernels take: beyond it the product has enough
# arithmetic per output for the BLAS path (im2col + GEMM) to be faster
MAX_PATCH = 32


def _source(kh: int, kw: int, c: int, cache: bool) -> str:
    """The kernels' module source for one patch size: the taps are unrolled and every input
    value of a window is read once into a local, so the loop over the filters keeps its four
    accumulators in registers and LLVM vectorizes it (a loop over the taps inside that loop
    ran at a quarter of the speed). The kernels run on one thread over a block of images;
    the callers split the batch over the CPU threads (serial kernels compile in a third of
    the time of ``prange`` ones)."""
    taps = [(di, dj, ch) for di in range(kh) for dj in range(kw) for ch in range(c)]
    load, fsum, bsum = [], [], []
    for corner in range(4):
        ci, cj = corner // 2, corner % 2
        for q, (di, dj, ch) in enumerate(taps):
            load.append(f"x{corner}_{q} = x[n, 2 * i + {ci + di}, 2 * j + {cj + dj}, {ch}]")
        fsum.append(f"a{corner} = " + " + ".join(f"x{corner}_{q} * w2[{q}, k]"
                                                 for q in range(len(taps))) + " + b[k]")
    for q in range(len(taps)):
        bsum.append(f"dw[{q}, k] += " + " + ".join(f"x{c4}_{q} * g{c4}" for c4 in range(4)))

    def lines(code: list, depth: int) -> str:
        return ("\n" + " " * depth).join(code)

    jit = f"@numba.njit(cache={cache}, nogil=True, error_model=\"numpy\")"
    return f'''"""gpunet: generated conv + ReLU + 2x2 max pool kernels, {kh}x{kw}x{c} patch."""
import numba


{jit}
def fwd(x, w2, b, y, idx):
    n_, oh, ow, f = y.shape
    zero = y.dtype.type(0)
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                {lines(load, 16)}
                yr, ir = y[n, i, j], idx[n, i, j]
                for k in range(f):
                    {lines(fsum, 20)}
                    best, win = a0, 0
                    if a1 > best or a1 != a1:
                        best, win = a1, 1
                    if a2 > best or a2 != a2:
                        best, win = a2, 2
                    if a3 > best or a3 != a3:
                        best, win = a3, 3
                    yr[k] = best if (best > zero or best != best) else zero
                    ir[k] = win


{jit}
def bwd(x, gy, y, idx, dw, db):
    n_, oh, ow, f = gy.shape
    zero = gy.dtype.type(0)
    dw[:] = zero
    db[:] = zero
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                {lines(load, 16)}
                gr, yr, ir = gy[n, i, j], y[n, i, j], idx[n, i, j]
                for k in range(f):
                    g = gr[k] if yr[k] > zero else zero
                    w = ir[k]
                    g0 = g if w == 0 else zero
                    g1 = g if w == 1 else zero
                    g2 = g if w == 2 else zero
                    g3 = g if w == 3 else zero
                    db[k] += g
                    {lines(bsum, 20)}
'''


def _cache_folder() -> str:
    """Where the generated kernel modules (and Numba's cache of them) are kept:
    ``GPUNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/gpunet`` or ``~/.cache/gpunet``."""
    import os

    base = os.environ.get("GPUNET_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "gpunet")
    return os.path.join(base, "kernels")


def _module(name: str, kh: int, kw: int, c: int) -> Any:
    """The generated module, imported from a file in ``_cache_folder()`` so that Numba caches
    its machine code on disk (a few seconds of compilation per patch size, once); executed
    in memory, compiled in every process, where that folder cannot be written."""
    import hashlib
    import importlib.util
    import os
    import sys
    import tempfile
    import types

    source = _source(kh, kw, c, True)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = _cache_folder()
    path = os.path.join(folder, f"{name}_{digest}.py")
    try:
        os.makedirs(folder, exist_ok=True)
        try:
            with open(path, encoding="utf-8") as fh:
                same = fh.read() == source
        except FileNotFoundError:
            same = False
        if not same:  # written whole under another name, then renamed: never half a file
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(source)
                os.replace(tmp, path)
            except OSError:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        modname = f"gpunet_kernels_{name}_{digest}"
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod  # Numba's disk cache finds the module again by its name
        spec.loader.exec_module(mod)
        return mod
    except OSError:
        mod = types.ModuleType(name)
        exec(compile(_source(kh, kw, c, False), f"<{name}>", "exec"), mod.__dict__)
        return mod


def conv_relu_pool_kernels(dtype: Any, kh: int, kw: int, c: int) -> tuple | None:
    """``(fwd, bwd)`` for a ``kh x kw x c`` patch (float32/float64), built on first use, or
    None without Numba (see the module docstring)."""
    if not _float_ok(dtype):
        return None
    name = f"conv_relu_pool_{kh}x{kw}x{c}"

    def build() -> tuple:
        mod = _module(name, kh, kw, c)
        return mod.fwd, mod.bwd

    return compiled(name, build)


def _blocks(n: int) -> list:
    from gpunet.backend import cpu_threads

    return cpu_threads.row_blocks(n, min_rows=1)


def conv_relu_pool_fwd(x: Any, w: Any, b: Any) -> tuple | None:
    """``(y, idx)``: ``maxpool2x2(relu(conv_valid(x, w) + b))`` of NHWC ``x`` with an HWIO
    kernel ``w``, stride and dilation 1, and the winning corner of each pooled cell (uint8);
    None without Numba or where the kernels do not apply (see ``MAX_PATCH``). The images are
    split over the CPU threads."""
    import numpy as np

    from gpunet.backend import cpu_threads

    kh, kw, c, f = w.shape
    if not isinstance(x, np.ndarray) or kh * kw * c > MAX_PATCH or x.dtype != w.dtype:
        return None
    k = conv_relu_pool_kernels(x.dtype, kh, kw, c)
    if k is None:
        return None
    n, h, wd, _ = x.shape
    oh, ow = (h - kh + 1) // 2, (wd - kw + 1) // 2
    y = np.empty((n, oh, ow, f), x.dtype)
    idx = np.empty((n, oh, ow, f), np.uint8)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b, x.dtype)
    x = np.ascontiguousarray(x)
    w2 = np.ascontiguousarray(w).reshape(kh * kw * c, f)
    cpu_threads.run_blocks(lambda r: k[0](x[r], w2, bias, y[r], idx[r]), _blocks(n))
    return y, idx


def conv_relu_pool_bwd(x: Any, gy: Any, y: Any, idx: Any, ksize: tuple) -> tuple:
    """``(d kernel, d bias)`` of ``conv_relu_pool_fwd`` for the pooled gradient ``gy`` (each
    thread sums its block of images into its own buffers; they are added at the end)."""
    import numpy as np

    from gpunet.backend import cpu_threads

    kh, kw = ksize
    n, _, _, f = gy.shape
    c = x.shape[3]
    bwd = conv_relu_pool_kernels(gy.dtype, kh, kw, c)[1]
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    blocks = _blocks(n)
    dw = np.empty((len(blocks), kh * kw * c, f), gy.dtype)
    db = np.empty((len(blocks), f), gy.dtype)
    cpu_threads.run_blocks(lambda p: bwd(x[blocks[p]], gy[blocks[p]], y[blocks[p]],
                                         idx[blocks[p]], dw[p], db[p]), list(range(len(blocks))))
    return dw.sum(axis=0).reshape(kh, kw, c, f), db.sum(axis=0)
