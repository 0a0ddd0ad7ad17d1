"""The CUDA form of Philox4x32-10 (``gpunet.backend.philox``): one thread per block of four
words, the same bits as the NumPy reference and the Numba kernels."""

from __future__ import annotations

from gpunet.backend.kernels._spec import define

PHILOX_PREAMBLE = """
__device__ void gpunet_philox4x32_10(unsigned long long ctr, unsigned int k0, unsigned int k1,
                                     unsigned int* out) {
  unsigned int c0 = (unsigned int)ctr, c1 = (unsigned int)(ctr >> 32), c2 = 0u, c3 = 0u;
  for (int r = 0; r < 10; ++r) {
    if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    unsigned long long p0 = (unsigned long long)c0 * 0xD2511F53ull;
    unsigned long long p1 = (unsigned long long)c2 * 0xCD9E8D57ull;
    unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
    unsigned int n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
    c1 = (unsigned int)p1; c3 = (unsigned int)p0; c0 = n0; c2 = n2;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
"""

# the ``n`` words of a draw, planar: ``w[i + q * nb]`` = word ``q`` of block ``start + i``
# (launched with ``size`` = ``nb`` = ``ceil(n / 4)``)
PHILOX_WORDS = define(
    "philox_words", "uint64 start, uint32 k0, uint32 k1, int64 nb, int64 n", "raw uint32 w",
    "unsigned int o[4]; gpunet_philox4x32_10(start + (unsigned long long)i, k0, k1, o);"
    "for (int q = 0; q < 4; ++q) { long long j = i + q * nb; if (j < n) w[j] = o[q]; }",
    PHILOX_PREAMBLE, scalars=("start", "k0", "k1", "nb", "n"), group="layer")

# the same, its start read from device memory (``PhiloxStream.reserve`` on a GPU: a step's
# launches then do not change from one step to the next, as a captured graph replays them)
PHILOX_WORDS_DEV = define(
    "philox_words_dev", "raw uint64 ctr, uint32 k0, uint32 k1, int64 nb, int64 n",
    "raw uint32 w",
    "unsigned int o[4]; gpunet_philox4x32_10(ctr[0] + (unsigned long long)i, k0, k1, o);"
    "for (int q = 0; q < 4; ++q) { long long j = i + q * nb; if (j < n) w[j] = o[q]; }",
    PHILOX_PREAMBLE, scalars=("k0", "k1", "nb", "n"), ndims=(("ctr", 0),), group="layer")
